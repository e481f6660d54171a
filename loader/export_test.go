package loader

// Kicks is how often a release woke the sweeper to measure a sandbox.
func (l *Loader) Kicks() int64 { return l.kicks.Load() }

// MeasureGuessed runs the sweeper's measuring pass now, on the caller's goroutine.
func (l *Loader) MeasureGuessed() { l.measureGuessed() }
