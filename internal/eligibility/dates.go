package eligibility

import "time"

// A birthdate is packed as year*10000 + month*100 + day; 0 is unknown.
const unknownBirth = 0

const microsPerDay = 86400 * 1_000_000

// PackDate parses YYYY-MM-DD; ok is false for anything else.
func PackDate(s string) (int32, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return unknownBirth, false
	}
	return int32(t.Year()*10000 + int(t.Month())*100 + t.Day()), true
}

// DaysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (Howard Hinnant's algorithm), without
// allocating or consulting time zones: it runs once per record.
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// AdultFrom returns the moment (Unix microseconds, UTC) at which a person
// born on the packed date reaches age: 00:00 UTC of that birthday. A person
// born on 29 February comes of age on 1 March in a common year.
func AdultFrom(birth int32, age int) int64 {
	y, m, d := int64(birth/10000)+int64(age), int64(birth/100%100), int64(birth%100)
	if m == 2 && d == 29 && !isLeap(y) {
		m, d = 3, 1
	}
	return DaysFromCivil(y, m, d) * microsPerDay
}
