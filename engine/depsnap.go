package engine

// SetModules replaces the module map that a JavaScript sandbox resolves imports against.
// It is for dependency images (loader/depimage.go): a sandbox evaluates a code's package
// modules alone, is snapshotted, and then goes on to load the whole code, whose map holds
// the same package modules byte for byte (the modules already evaluated stay evaluated:
// QuickJS finds them by name before asking the map). The caller guarantees that; a map
// that gives an evaluated name other bytes would leave the old module in place.
func (sb *Sandbox) SetModules(m ModuleMap) { sb.cfg.Modules = m }
