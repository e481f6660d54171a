package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
)

var testEngine *engine.Engine

func TestMain(m *testing.M) { enginetest.Main(m, &testEngine) }

// The bundle figures come from the registry stub alone (no internet): each is taken,
// the bundled app answers its route (appColdLoads checks the body), and the npm figures
// are either taken or left out with a note.
func TestBundleFigures(t *testing.T) {
	b, err := runBundle(context.Background(), testEngine, 1, "", func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if b.Project != "stub" || b.ColdN != 1 || b.WarmN != 4 || b.AppColdLoadN != 4 || b.ColdP50 <= 0 || b.WarmP50 <= 0 || b.AppColdLoadP50 <= 0 {
		t.Fatalf("figures %+v", b)
	}
	if (b.NpmInstallMs == 0 || b.NpmEsbuildMs == 0) && !strings.Contains(b.NpmNote, "left out") {
		t.Errorf("an npm figure is left out without a note saying why: %+v", b)
	}
	t.Logf("%+v", b)
}
