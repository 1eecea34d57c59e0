package serve

import (
	"container/list"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// resultCache keeps recent answers by statement and by the exact data they
// read: each table's lake snapshot (the offsets it covers) and the end of
// the tail synced for the query. A commit or a new record changes that
// cut, so a stale answer is never found; entries of cuts that moved on age
// out of the LRU. Tables added or removed clear it.
type resultCache struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	lru      *list.List // of *cacheEntry, most recent first
	byKey    map[string]*list.Element
}

type cacheEntry struct {
	key  string
	res  *Result
	size int64
}

// maxCachedResult bounds one cached answer (estimated bytes).
const maxCachedResult = 4 << 20

func newResultCache(maxBytes int64) *resultCache {
	return &resultCache{maxBytes: maxBytes, lru: list.New(), byKey: map[string]*list.Element{}}
}

// get returns a copy of the cached answer (callers may change its rows).
func (c *resultCache) get(key string) (*Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return cloneResult(el.Value.(*cacheEntry).res), true
}

// put keeps a copy of res, unless it is too large.
func (c *resultCache) put(key string, res *Result) {
	size := resultSize(res)
	if size > maxCachedResult || size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(el)
		return
	}
	c.byKey[key] = c.lru.PushFront(&cacheEntry{key: key, res: cloneResult(res), size: size})
	c.bytes += size
	for c.bytes > c.maxBytes {
		last := c.lru.Back()
		e := last.Value.(*cacheEntry)
		c.lru.Remove(last)
		delete(c.byKey, e.key)
		c.bytes -= e.size
	}
}

func (c *resultCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Init()
	clear(c.byKey)
	c.bytes = 0
}

// cloneResult copies the rows (not the values, which nobody changes in
// place: encoders replace a row's elements, so a shallow copy per row is
// enough).
func cloneResult(r *Result) *Result {
	out := *r
	out.Rows = make([][]any, len(r.Rows))
	for i, row := range r.Rows {
		out.Rows[i] = slices.Clone(row)
	}
	return &out
}

// resultSize estimates the memory a result holds.
func resultSize(r *Result) int64 {
	n := int64(64 + 32*len(r.Columns))
	for _, row := range r.Rows {
		n += 24 + 16*int64(len(row))
		for _, v := range row {
			if s, ok := v.(string); ok {
				n += int64(len(s))
			}
		}
	}
	return n
}

// volatile are functions whose value changes between two runs over the
// same data: queries naming them are not cached.
var volatile = []string{"now", "current_timestamp", "current_date", "current_time", "localtimestamp", "localtime",
	"today", "get_current_time", "get_current_timestamp", "transaction_timestamp", "statement_timestamp",
	"random", "setseed", "uuid", "gen_random_uuid", "nextval", "currval", "current_setting"}

func cacheable(names map[string]bool) bool {
	for _, v := range volatile {
		if names[v] {
			return false
		}
	}
	return true
}

// cacheKey names a statement over one cut of the tables it reads.
func cacheKey(st Statement, cuts []cut) string {
	var b strings.Builder
	b.WriteString(st.SQL)
	b.WriteByte(0)
	if st.Native {
		b.WriteString("native")
	}
	for _, a := range st.Args {
		fmt.Fprintf(&b, "\x00%T:%v", a, a)
	}
	for _, c := range cuts {
		b.WriteString("\x00")
		b.WriteString(c.table.Name)
		for _, xs := range [][]int64{c.offsets, c.end, c.tail} {
			b.WriteByte('|')
			for _, x := range xs {
				b.WriteString(strconv.FormatInt(x, 10))
				b.WriteByte(',')
			}
		}
	}
	return b.String()
}
