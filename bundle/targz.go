package bundle

import (
	"strings"

	"github.com/isobox/isobox/internal/npm"
	"github.com/isobox/isobox/isoerr"
)

// FilesFromTarGz reads a project sent as a .tar.gz (`tar czf app.tgz -C app .` or `tar czf
// app.tgz app`): its regular files by relative path, without a single top folder that
// holds everything when package.json is not at the root. It refuses what the npm
// unpacker refuses (links, absolute and climbing paths, devices) and more than
// MaxProjectFiles files or MaxProjectBytes bytes.
//
// # Errors
//
// bundle_failed naming the entry for a refused archive.
func FilesFromTarGz(tgz []byte) (map[string][]byte, error) {
	files, err := npm.UnpackFiles("the project archive", tgz, npm.Limits{
		Files: MaxProjectFiles, UnpackedBytes: MaxProjectBytes, FileBytes: MaxProjectBytes,
	}, false)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, isoerr.New(isoerr.BundleFailed, "the project archive holds no files")
	}
	if _, ok := files["package.json"]; ok {
		return files, nil
	}
	top := ""
	for name := range files {
		dir, _, ok := strings.Cut(name, "/")
		if !ok || top != "" && dir != top {
			return files, nil
		}
		top = dir
	}
	out := make(map[string][]byte, len(files))
	for name, b := range files {
		out[strings.TrimPrefix(name, top+"/")] = b
	}
	return out, nil
}
