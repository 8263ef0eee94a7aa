package signal

import "testing"

func TestAIPref(t *testing.T) {
	for _, c := range []struct {
		raw      string
		reserved bool
	}{
		{``, false},
		{`null`, false},
		{`""`, false},
		{`"train-ai=n"`, true},
		{`"train-ai=y"`, false},
		{`"train-ai=n, search=y"`, true},
		{`"search=y, train-ai=n;src=tos"`, true},
		{`"train-genai=n"`, true},
		{`"train-ai=y, train-genai=n"`, true},
		{`"train-ai=y, train-genai=y"`, false},
		{`"bulk=n"`, true},
		{`"bulk=n, train-ai=y"`, false},
		{`"bulk=y"`, false},
		{`"search=n"`, false},
		{`"ai-use=n"`, false},
		{`"train-ai"`, true},       // a bare key is the boolean true, not y
		{`"train-ai=\"n\""`, true}, // a string, not the token: unreadable
		{`"train-ai=(n)"`, true},   // an inner list
		{`"train-ai=maybe"`, true},
		{`"train-ai=N"`, true}, // tokens are case-sensitive
		{`"train-ai=n,"`, true},
		{`"=n"`, true},
		{`"Train-AI=n"`, true}, // keys are lower-case: does not parse
		{`"train-ai=y, train-ai=n"`, true},
		{`1`, true},
		{`{"train-ai":"n"}`, true},
		{`["train-ai=n"]`, true},
	} {
		if got := AIPref([]byte(c.raw)); got != c.reserved {
			t.Errorf("AIPref(%s) = %v, want %v", c.raw, got, c.reserved)
		}
	}
}

func TestTDMRep(t *testing.T) {
	for _, c := range []struct {
		raw      string
		reserved bool
	}{
		{``, false}, {`null`, false}, {`0`, false}, {`"0"`, false}, {`0.0`, false},
		{`1`, true}, {`"1"`, true}, {`2`, true}, {`-1`, true}, {`true`, true}, {`false`, true},
		{`"yes"`, true}, {`{}`, true}, {`[1]`, true}, {`""`, true},
	} {
		if got := TDMRep([]byte(c.raw)); got != c.reserved {
			t.Errorf("TDMRep(%s) = %v, want %v", c.raw, got, c.reserved)
		}
	}
}

func TestC2PA(t *testing.T) {
	for _, c := range []struct {
		raw      string
		reserved bool
	}{
		{``, false},
		{`null`, false},
		{`{}`, false},
		{`{"entries":{}}`, false},
		{`{"entries":{"cawg.ai_training":{"use":"notAllowed"}}}`, true},
		{`{"entries":{"cawg.ai_training":{"use":"constrained","constraint_info":"ask"}}}`, true},
		{`{"entries":{"cawg.ai_training":{"use":"allowed"}}}`, false},
		{`{"entries":{"cawg.ai_generative_training":{"use":"notAllowed"}}}`, true},
		{`{"entries":{"c2pa.ai_training":{"use":"notAllowed"}}}`, true},
		{`{"entries":{"c2pa.ai_generative_training":{"use":"constrained"}}}`, true},
		{`{"entries":{"cawg.ai_inference":{"use":"notAllowed"},"cawg.data_mining":{"use":"notAllowed"}}}`, false},
		{`{"cawg.ai_training":{"use":"notAllowed"}}`, true}, // the entries object itself
		// The assertion as a manifest lists it, with its label.
		{`{"label":"cawg.training-mining","data":{"entries":{"cawg.ai_training":{"use":"notAllowed"}}}}`, true},
		{`{"label":"c2pa.training-mining","data":{"entries":{"c2pa.ai_generative_training":{"use":"constrained"}}}}`, true},
		{`{"label":"cawg.training-mining","data":{"entries":{"cawg.ai_training":{"use":"allowed"}}}}`, false},
		{`{"label":"cawg.training-mining","data":[]}`, true},
		{`{"cawg.ai_training":{"use":"allowed"},"cawg.ai_generative_training":{"use":"allowed"}}`, false},
		{`{"entries":{"cawg.ai_training":{"use":"NotAllowed"}}}`, true}, // unknown value
		{`{"entries":{"cawg.ai_training":{}}}`, true},
		{`{"entries":{"cawg.ai_training":null,"c2pa.ai_training":null}}`, false},
		{`{"entries":null}`, false}, // null: nothing stated
		{`{"entries":{"cawg.ai_training":"notAllowed"}}`, true},
		{`{"entries":{"cawg.ai_training":{"use":"allowed","use":"notAllowed"}}}`, true}, // duplicate
		{`{"entries":[]}`, true},
		{`"{\"entries\":{\"cawg.ai_training\":{\"use\":\"notAllowed\"}}}"`, true}, // as a JSON string
		{`"{\"entries\":{\"cawg.ai_training\":{\"use\":\"allowed\"}}}"`, false},
		{`"not json"`, true},
		{`""`, true},
		{`true`, true},
		{`[]`, true},
	} {
		if got := C2PA([]byte(c.raw)); got != c.reserved {
			t.Errorf("C2PA(%s) = %v, want %v", c.raw, got, c.reserved)
		}
	}
}

func FuzzSignals(f *testing.F) {
	for _, s := range []string{`"train-ai=n"`, `1`, `{"entries":{"cawg.ai_training":{"use":"notAllowed"}}}`, `null`, `"a=b;c"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Never a panic; absent or null is never a reservation.
		a, b, c := AIPref(raw), TDMRep(raw), C2PA(raw)
		if isNull(raw) && (a || b || c) {
			t.Fatalf("null %q reserves", raw)
		}
	})
}
