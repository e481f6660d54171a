package loader

import (
	"container/list"
	"sync"

	"github.com/isobox/isobox/engine"
)

// codeCache holds the per-code images (the state right after a code's modules were
// evaluated, kept within a memory budget, least recently used dropped first) and the
// record of the code hashes loaded at least once. Its lock is a leaf: nothing else is
// locked while it is held.
type codeCache struct {
	budget uint64

	mu     sync.Mutex
	images map[string]*list.Element // code hash -> element of lru (*codeImage)
	lru    *list.List
	mem    uint64
	seen   map[string]bool // code hashes loaded at least once
}

// codeImage is the state of a sandbox right after a worker's modules were evaluated.
type codeImage struct {
	hash string
	img  *engine.Image
	cost uint64 // what it counts against the budget: its pages and the file restores map
}

func newCodeCache(budget uint64) *codeCache {
	return &codeCache{budget: budget, images: map[string]*list.Element{}, lru: list.New(), seen: map[string]bool{}}
}

// seenBefore records a load of code hash and reports whether it was loaded before. The
// record is bounded: past maxSeen hashes it starts over.
func (c *codeCache) seenBefore(hash string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[hash] {
		return true
	}
	if len(c.seen) >= maxSeen {
		clear(c.seen)
	}
	c.seen[hash] = true
	return false
}

// maxSeen bounds the record of loaded code hashes.
const maxSeen = 100000

// image returns the per-code image of hash, or nil.
func (c *codeCache) image(hash string) *engine.Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.images[hash]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*codeImage).img
	}
	return nil
}

// keep adds the image of hash, dropping the least recently used ones over the budget, and
// returns those it dropped (their pools of restored sandboxes are the caller's to drop:
// engine.Engine.DropRestored, outside this leaf lock).
func (c *codeCache) keep(hash string, img *engine.Image) (dropped []*engine.Image) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cost := uint64(img.Size() + img.FileBytes())
	if _, ok := c.images[hash]; ok || cost > c.budget {
		return nil
	}
	c.images[hash] = c.lru.PushFront(&codeImage{hash: hash, img: img, cost: cost})
	c.mem += cost
	for c.mem > c.budget {
		e := c.lru.Back()
		ci := e.Value.(*codeImage)
		c.lru.Remove(e)
		delete(c.images, ci.hash)
		c.mem -= ci.cost
		dropped = append(dropped, ci.img)
	}
	return dropped
}

// stats is the number of images kept and their memory.
func (c *codeCache) stats() (n int, mem uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.images), c.mem
}
