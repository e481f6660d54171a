package engine

import (
	"context"
	"encoding/json"
)

// FSFunc is the host side of a sandbox's filesystem bindings (SandboxConfig.FS): the
// binding's name (its env property), the operation (the host op's name without "fs_":
// "read", "write", ...) and its JSON arguments in, a JSON result or an error (the guest's
// promise rejects with its message) out. ctx ends when the guest drops the call or the
// invocation ends, and the invocation waits for it, so it must return soon after.
type FSFunc func(ctx context.Context, binding, op string, args json.RawMessage) (json.RawMessage, error)

// fsOp is the entry of one filesystem operation of env bindings ("fs_" + op).
func fsOp(op, in, out, doc string) hostOp {
	return hostOp{name: "fs_" + op, in: `JSON {"binding":string,` + in + `}`, out: out,
		doc: doc + " Rejects with Error \"code: message\" (isoerr codes: not_found, invalid_request, conflict, " +
			"precondition_failed, quota_exceeded, file_too_large, read_only).",
		capability: "FS",
		async: func(sb *Sandbox, id int, payload json.RawMessage) error {
			return sb.startFS(id, op, payload)
		}}
}

// fsOps are the filesystem operations of env bindings: the state API (workspace.Serve
// answers them in isobox).
var fsOps = []hostOp{
	fsOp("read", `"path":string,"encoding":"utf8|bytes","offset"?:number,"length"?:number,"ifMatch"?:string`, `JSON {"data":string (bytes: base64),"etag":string,"size"?:number}`,
		"Reads a whole file (readFile; at most 32 MiB at once), or with offset and length (encoding bytes) at most length bytes from offset and the file's size (readFile with stream: true); ifMatch: only while the file has that etag."),
	fsOp("write", `"path":string,"data":string,"base64"?:bool,"append"?:bool,"ifMatch"?:string,"ifNoneMatch"?:"*"`, "JSON FileInfo",
		"Writes (or appends to) a file, creating its parent directories; ifMatch/ifNoneMatch make it conditional."),
	fsOp("upload", `"action":"open|write|commit|abort","path"?:string,"append"?:bool,"ifMatch"?:string,"ifNoneMatch"?:"*","upload"?:string,"data"?:string (base64)`,
		`JSON open: {"upload":string}; write, abort: null; commit: FileInfo`,
		"A streamed write (writeFile of a ReadableStream): open returns a host-owned handle, each write hands it a chunk of at most 8 MiB, commit makes the content the file's atomically; abort, a failure or a minute idle leaves nothing."),
	fsOp("stat", `"path":string,"lstat"?:bool`, "JSON FileInfo or null when missing",
		"Describes an entry {path,name,type,size,etag,target,createdAt,updatedAt}."),
	fsOp("readdir", `"path":string`, "JSON [FileInfo...]", "Lists a directory in name order."),
	fsOp("mkdir", `"path":string,"recursive"?:bool`, "null", "Creates a directory (recursive: with its parents, and no error if it exists)."),
	fsOp("rm", `"path":string,"recursive"?:bool,"force"?:bool,"ifMatch"?:string`, "null",
		"Removes an entry (recursive: a directory with its contents; force: no error when missing; ifMatch: only if the file still has that etag, else precondition_failed and nothing removed)."),
	fsOp("mv", `"from":string,"to":string`, "null", "Moves an entry, replacing a file at to."),
	fsOp("cp", `"from":string,"to":string,"recursive"?:bool`, "null", "Copies a file, or a directory with recursive."),
	fsOp("glob", `"pattern":string`, "JSON [FileInfo...]", "Entries matching a glob (\"**\" spans directories)."),
	fsOp("symlink", `"target":string,"path":string`, "null", "Creates a symlink; its target must stay inside the workspace."),
	fsOp("readlink", `"path":string`, "JSON string", "A symlink's target."),
	fsOp("exec", `"command":string,"cwd"?:string,"env"?:object,"timeoutMs"?:number,"maxOutput"?:number`, `JSON {"stdout":string,"stderr":string,"exitCode":number}`,
		"Runs a shell script over the workspace (package workspace/shell; also wall_time_exceeded, cpu_limit_exceeded, output_limit_exceeded)."),
	fsOp("queryjson", `"path":string,"query":string`, `JSON {"found":bool,"value"?:any}`,
		"The value at a JSON path (a.b[0][\"k\"]; \"\" is the whole document) of a JSON file (queryJson)."),
	fsOp("updatejson", `"path":string,"update":{"op":"set|merge|delete","path":string,"value"?:any},"ifMatch"?:string,"ifNoneMatch"?:"*"`, "JSON FileInfo",
		"Sets, merges (RFC 7386) or deletes at a JSON path of a JSON file in one conditional write (updateJson)."),
	fsOp("search", `"pattern":string,"glob"?:string,"regex"?:bool,"ignoreCase"?:bool,"contextLines"?:int,"maxResults"?:int`,
		`JSON {"matches":[{"path","line","column","text","before"?,"after"?}...],"filesSearched":int,"binarySkipped":int,"truncated":bool}`,
		"Lines of the workspace's files that match text or an RE2 regular expression (searchText)."),
	fsOp("findfiles", `"glob":string,"maxResults"?:int`, `JSON {"files":[FileInfo...],"truncated":bool}`,
		"Files whose paths match a glob; one without \"/\" matches names anywhere (searchFiles)."),
	fsOp("replace", `"path":string,"search":string,"replace":string,"regex"?:bool,"ignoreCase"?:bool,"once"?:bool,"dryRun"?:bool,"ifMatch"?:string`,
		`JSON {"path","count","preview","etag"}`, "Replaces matches in one file (replaceInFile); dryRun only reports."),
	fsOp("replaceall", `"glob":string,"search":string,"replace":string,"regex"?:bool,"ignoreCase"?:bool,"once"?:bool,"dryRun"?:bool`,
		`JSON {"files":[{"path","count","preview","etag"}...],"replacements":int,"skipped"?:[string...],"dryRun":bool}`,
		"Replaces matches in every file a glob selects, all or nothing (replaceInFiles)."),
	fsOp("diff", `"path":string,"to"?:string,"text"?:string`, "JSON string",
		"The unified diff from a file to another file (to) or to text (\"\" when equal)."),
	fsOp("archive", `"paths":[string...],"to":string`, "JSON FileInfo", "Writes a tar.gz of entries to a file (createArchive)."),
	fsOp("extract", `"path":string,"to":string`, `JSON {"files":int,"directories":int,"symlinks":int,"bytes":int}`,
		"Extracts a tar.gz file under a directory, all or nothing; hostile entries are refused (extractArchive)."),
	fsOp("hash", `"path":string,"algo"?:"sha256|sha512|sha1|md5"`, "JSON string", "A file's hex digest (hashFile)."),
}

// startFS runs one filesystem operation of a binding (SandboxConfig.FS) for the guest,
// concurrently with any others.
func (sb *Sandbox) startFS(id int, op string, payload json.RawMessage) error {
	inv := sb.inv
	if sb.cfg.FS == nil {
		return typeError("no filesystem bindings are available in this sandbox")
	}
	var a struct {
		Binding string `json:"binding"`
	}
	if err := json.Unmarshal(payload, &a); err != nil {
		return typeError("fs_%s: %v", op, err)
	}
	fs := sb.cfg.FS
	inv.runOp(id, func(ctx context.Context) (any, error) { return fs(ctx, a.Binding, op, payload) })
	return nil
}
