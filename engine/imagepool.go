package engine

import (
	"context"
	"slices"
	"sync"
)

// imagePools are the pools of sandboxes restored from snapshots (KeepRestored), for at
// most maxImagePools images, the least recently kept dropped first. Its lock is taken
// before a pool's own.
type imagePools struct {
	mu     sync.Mutex
	imgs   []*Image // with a pool; the most recently kept last
	closed bool
}

// maxImagePools bounds the images with a pool of restored sandboxes: each entry holds an
// instance and the pages copied into it (~1 MiB for the Hono app's dependency image).
const maxImagePools = 4

// KeepRestored keeps up to n sandboxes restored from img ready for Restore (of the default
// memory limit), made in the background, so that the request path takes one instead of
// restoring it and then faulting in, one page at a time, the pages its worker's load and
// first response write: the pool copies those while the entry waits (blankPool). It is
// for an image many new workers start from, a dependency image above all. The largest n
// asked for wins (at most 16); at most 4 images have a pool, the least recently kept
// losing its own to a fifth (DropRestored drops one). Images of Python, of WebAssembly
// workers and of sandboxes that hold WebAssembly instances, and images larger than the
// default memory limit, get none. The entries' native stacks are grown as deep as the first
// workers restored from img needed (blankPool.grow): img's workers decide what its entries
// cost, so an image should serve one tenant, as the loader's dependency images do.
func (e *Engine) KeepRestored(img *Image, n int) {
	limit := DefaultLimits().Memory
	if n <= 0 || img.python || img.worker != nil || img.wasm != nil || e.base == nil || img.base != e.base.sum || uint64(img.size) > limit {
		return
	}
	ip := &e.images
	ip.mu.Lock()
	if ip.closed {
		ip.mu.Unlock()
		return
	}
	var drop *blankPool
	if i := slices.Index(ip.imgs, img); i >= 0 {
		ip.imgs = append(slices.Delete(ip.imgs, i, i+1), img)
	} else {
		ip.imgs = append(ip.imgs, img)
		if len(ip.imgs) > maxImagePools {
			drop = ip.imgs[0].pool.Swap(nil)
			ip.imgs = slices.Delete(ip.imgs, 0, 1)
		}
	}
	p := img.pool.Load()
	if p == nil {
		p = &blankPool{}
		img.pool.Store(p)
	}
	ip.mu.Unlock()
	if drop != nil {
		drop.close(context.Background())
	}
	p.keep(e, n, int(img.size)/osPage+hotPastImage, true, func(ctx context.Context, hot []pageRun) (*Sandbox, error) {
		return e.restoreJS(ctx, img, SandboxConfig{Memory: limit}, hot)
	})
}

// DropRestored closes img's pool of restored sandboxes (KeepRestored), if it has one: for
// an image its user no longer keeps.
func (e *Engine) DropRestored(img *Image) {
	ip := &e.images
	ip.mu.Lock()
	p := img.pool.Swap(nil)
	if i := slices.Index(ip.imgs, img); i >= 0 {
		ip.imgs = slices.Delete(ip.imgs, i, i+1)
	}
	ip.mu.Unlock()
	if p != nil {
		p.close(context.Background())
	}
}

// close closes every image's pool. Called by Engine.Close.
func (ip *imagePools) close(ctx context.Context) {
	ip.mu.Lock()
	ip.closed = true
	imgs := ip.imgs
	ip.imgs = nil
	var pools []*blankPool
	for _, img := range imgs {
		if p := img.pool.Swap(nil); p != nil {
			pools = append(pools, p)
		}
	}
	ip.mu.Unlock()
	for _, p := range pools {
		p.close(ctx)
	}
}

// takeRestored hands out a sandbox of img's pool for cfg, or nil when img has no pool,
// none is ready, or cfg asks for another memory limit than the entries have.
func (e *Engine) takeRestored(img *Image, cfg SandboxConfig) *Sandbox {
	p := img.pool.Load()
	if p == nil || (cfg.Memory != 0 && cfg.Memory != DefaultLimits().Memory) {
		return nil
	}
	sb := p.take()
	if sb == nil {
		return nil
	}
	cfg.Memory = DefaultLimits().Memory
	sb.cfg = cfg
	return sb
}
