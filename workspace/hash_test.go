package workspace_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func TestHashFile(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "p", "a.txt", "abc")
	// A file of several chunks hashes as its whole content.
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*workspace.ChunkSize/16+7)
	if _, err := s.Write(ctx, "p", "big.bin", bytes.NewReader(big), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	bigSum := sha256.Sum256(big)
	for _, c := range []struct {
		path, algo, want string
		code             isoerr.Code
	}{
		{"a.txt", "", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ""},
		{"a.txt", "sha1", "a9993e364706816aba3e25717850c26c9cd0d89d", ""},
		{"a.txt", "md5", "900150983cd24fb0d6963f7d28e17f72", ""},
		{"a.txt", "sha512", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f", ""},
		{"big.bin", "sha256", hex.EncodeToString(bigSum[:]), ""},
		{"a.txt", "crc32", "", isoerr.InvalidRequest},
		{"missing", "", "", isoerr.NotFound},
		{"/", "", "", isoerr.Conflict},
	} {
		got, err := s.HashFile(ctx, "p", c.path, c.algo)
		if c.code != "" {
			wantCode(t, err, c.code)
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("HashFile(%s, %s) = %s, %v; want %s", c.path, c.algo, got, err, c.want)
		}
	}
}
