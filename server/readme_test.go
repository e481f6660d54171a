package server

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// The curl walkthroughs of README.md and server/README.md ("HTTP API"), each run in order
// against a real server: every example answers with success, as a reader who pastes them
// one by one would see.
func TestReadmeWalkthrough(t *testing.T) {
	for _, file := range []string{"../README.md", "README.md"} {
		t.Run(file, func(t *testing.T) { runWalkthrough(t, file) })
	}
}

func runWalkthrough(t *testing.T, file string) {
	readme, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const first = `H="Authorization: Bearer $K"; U=http://127.0.0.1:8787`
	text := string(readme)
	i := strings.Index(text, first)
	if i < 0 {
		t.Fatalf("%s has no walkthrough starting with %s", file, first)
	}
	block := text[i+len(first):]
	block = block[:strings.Index(block, "```")]

	ts := start(t, Config{})
	vars := map[string]string{"K": testKey, "H": "Authorization: Bearer " + testKey, "U": ts.url}
	n := 0
	for _, line := range strings.Split(block, "\n") {
		for _, cmd := range shellCommands(t, line, vars) {
			n++
			method, url, body, header := curlRequest(t, cmd)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", strings.Join(cmd, " "), err)
			}
			resp.Body.Close() // a followed log stream ends here, after its status
			cancel()
			if resp.StatusCode >= 400 {
				t.Errorf("%s: %s\n  answered %d", file, strings.TrimSpace(line), resp.StatusCode)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d curl commands found in the walkthrough", n)
	}
}

// shellCommands splits one line of sh into its commands (";"), each into words, with
// quotes removed, "$VAR" expanded outside single quotes and a trailing "# comment" dropped.
func shellCommands(t *testing.T, line string, vars map[string]string) [][]string {
	var cmds [][]string
	var words []string
	var w strings.Builder
	inWord := false
	var quote byte
	end := func() {
		if inWord {
			words = append(words, w.String())
		}
		w.Reset()
		inWord = false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case quote == '"' && c == '"':
			quote = 0
		case quote == '"' && c == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`, line[i+1]) >= 0:
			i++
			w.WriteByte(line[i])
		case c == '$':
			j := i + 1
			for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z') {
				j++
			}
			v, ok := vars[line[i+1:j]]
			if !ok {
				t.Fatalf("README: unknown variable in %q", line)
			}
			w.WriteString(v)
			inWord = true
			i = j - 1
		case quote == '"':
			w.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			inWord = true
		case c == ' ' || c == '\t':
			end()
		case c == ';':
			end()
			if len(words) > 0 {
				cmds = append(cmds, words)
			}
			words = nil
		case c == '#' && !inWord:
			i = len(line)
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	end()
	if len(words) > 0 {
		cmds = append(cmds, words)
	}
	return cmds
}

// curlRequest reads the curl options the walkthrough uses: -X, -H, -d, -N, -s.
func curlRequest(t *testing.T, words []string) (method, url string, body []byte, header http.Header) {
	if words[0] != "curl" {
		t.Fatalf("README: not a curl command: %q", words)
	}
	header = http.Header{}
	for i := 1; i < len(words); i++ {
		switch words[i] {
		case "-X":
			i++
			method = words[i]
		case "-H":
			i++
			k, v, _ := strings.Cut(words[i], ":")
			header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		case "-d":
			i++
			body = []byte(words[i])
		case "-N", "-s":
		default:
			if strings.HasPrefix(words[i], "-") || url != "" {
				t.Fatalf("README: curl option or argument %q not understood in %q", words[i], words)
			}
			url = words[i]
		}
	}
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost // as curl does with -d
		}
	}
	return method, url, body, header
}
