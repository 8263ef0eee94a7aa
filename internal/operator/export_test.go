package operator

// HoldHashSlots takes every free hash slot of s, as a burst of logins in
// progress would, and returns the function that gives them back.
func HoldHashSlots(s *Service) func() {
	n := 0
	for {
		if _, ok := s.tryHashSlot(); !ok {
			break
		}
		n++
	}
	return func() {
		for range n {
			<-s.hashSlots
		}
	}
}
