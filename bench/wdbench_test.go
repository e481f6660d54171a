package bench

import (
	"strings"
	"testing"
)

// okRun and allFailed are outputs of the anchor's `wdbench load` (built from
// ../shared/anchors/workerd/wdbench) run here against a Python http.server on 127.0.0.1:
// -c 2 -d 1s -warmup 5 -prefix hthr, with -pid for the first and -expect nothere for the
// second.
const okRun = `hthr_server_cpu_ms=680.000
hthr_server_cpu_us_per_req=471.567
hthr_server_cpu_util_pct=67.951
hthr_conns=2
hthr_elapsed_s=1.001
hthr_ok=1442
hthr_errors=0
hthr_rps=1440.959
hthr_n=1442
hthr_min_ms=0.412
hthr_p50_ms=1.149
hthr_p90_ms=2.005
hthr_p99_ms=5.423
hthr_max_ms=10.657
hthr_mean_ms=1.386
`

const allFailed = `hthr_conns=2
hthr_elapsed_s=1.000
hthr_ok=0
hthr_errors=612
hthr_rps=0.000
hthr_n=0
hthr_min_ms=0.000
hthr_p50_ms=0.000
hthr_p90_ms=0.000
hthr_p99_ms=0.000
hthr_max_ms=0.000
hthr_mean_ms=0.000
`

func TestParseWdbenchLoad(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    HTTPHello
		wantErr string
	}{
		{"run with server pid", okRun, HTTPHello{RPS: 1440.959, P50: 1.149, P99: 5.423, N: 1442, Conns: 2, ServerCPUPerReq: 471.567, Generator: GeneratorWdbench}, ""},
		{"run without pid", strings.Join(strings.Split(okRun, "\n")[3:], "\n"), HTTPHello{RPS: 1440.959, P50: 1.149, P99: 5.423, N: 1442, Conns: 2, Generator: GeneratorWdbench}, ""},
		{"other prefixes ignored", "hlat_rps=1\n" + okRun + "warm1_rps=2\n", HTTPHello{RPS: 1440.959, P50: 1.149, P99: 5.423, N: 1442, Conns: 2, ServerCPUPerReq: 471.567, Generator: GeneratorWdbench}, ""},
		{"every request failed", allFailed, HTTPHello{}, "612 of 612 requests failed"},
		{"some failed", strings.Replace(okRun, "hthr_errors=0", "hthr_errors=3", 1), HTTPHello{}, "3 of 1445 requests failed"},
		{"no rate", strings.Replace(okRun, "hthr_rps=1440.959\n", "", 1), HTTPHello{}, "no hthr_rps"},
		{"not a number", strings.Replace(okRun, "hthr_p99_ms=5.423", "hthr_p99_ms=fast", 1), HTTPHello{}, "hthr_p99_ms is not a number"},
		{"empty output", "", HTTPHello{}, "no hthr_ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWdbenchLoad([]byte(tt.out), "hthr")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Fatalf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}
