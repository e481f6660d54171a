package workspace

import "context"

// Blobs counts the stored blobs and chunks: what a failed operation must not leave.
func (s *SQLite) Blobs() (blobs, chunks int) {
	ctx := context.Background()
	s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM blobs`).Scan(&blobs)
	s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM chunks`).Scan(&chunks)
	return blobs, chunks
}

// FirstSchema is the schema of the first release, for the upgrade test.
var FirstSchema = migrations[:1]
