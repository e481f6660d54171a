package bench

import "testing"

// Compare states every ratio as "how many times better isobox does", leaves out what a
// side did not measure, and never divides by zero.
func TestCompare(t *testing.T) {
	r := &Report{ColdLoadP50: 0.5, ColdLoadBackToBackP50: 0.4, WarmCallP50: 0.1, IdleWorkerRSS: 200, EvalVsDeno: 0.8}
	r.App.ColdLoadP50 = 4
	a := &Anchor{ColdLoadP50: 10, WarmCallP50: 0.3, IdleWorkerRSS: 2000, HelloRPS: 8000, HelloCPU: 50, AppColdP50: 12}
	tests := []struct {
		name    string
		hh      *HTTPHello
		procRPS float64
		want    Ratios
	}{
		{"everything", &HTTPHello{RPS: 4000, ServerCPUPerReq: 100}, 2000,
			Ratios{ColdLoad: 20, ColdLoadBackToBack: 25, WarmCall: 3, IdleWorkerRSS: 10, HTTPHello: 0.5, HTTPHelloCPU: 0.5, HTTPHelloProc: 0.25, AppColdLoad: 3, EvalVsDeno: 0.8}},
		{"no HTTP run", nil, 0,
			Ratios{ColdLoad: 20, ColdLoadBackToBack: 25, WarmCall: 3, IdleWorkerRSS: 10, AppColdLoad: 3, EvalVsDeno: 0.8}},
		{"the in-process generator reads no CPU", &HTTPHello{RPS: 16000}, 0,
			Ratios{ColdLoad: 20, ColdLoadBackToBack: 25, WarmCall: 3, IdleWorkerRSS: 10, HTTPHello: 2, AppColdLoad: 3, EvalVsDeno: 0.8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compare(r, tt.hh, tt.procRPS, a); got != tt.want {
				t.Errorf("Compare = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := Compare(&Report{}, nil, 0, &Anchor{}); got != (Ratios{}) {
		t.Errorf("nothing measured: %+v, want no ratios", got)
	}
}
