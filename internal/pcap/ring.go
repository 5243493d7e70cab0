package pcap

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// ring holds records between the loops that capture and the writer: a
// buffer allocated once, records laid end to end, each behind a 4-byte
// length word and padded to 4 bytes. A record never wraps: when it does
// not fit before the buffer's end, a length word of 0 marks the rest of
// the buffer as unused and the record starts over at 0.
type ring struct {
	mu       sync.Mutex
	buf      []byte // its length is a multiple of 4
	w, r     uint64 // bytes reserved and released since the start; w-r <= len(buf)
	sleeping bool   // the writer waits for a wake-up
	dropped  atomic.Uint64
}

const (
	lenWord = 4
	// releaseEvery is how much drain writes before it gives space back.
	releaseEvery = 256 << 10
)

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// reserve returns n bytes of the ring for a record, or nil when the ring
// is full. r.mu is held; the caller fills the bytes before releasing it.
func (r *ring) reserve(n int) []byte {
	size := uint64(len(r.buf))
	need := align4(lenWord + uint64(n))
	pos := r.w % size
	var pad uint64
	if pos+need > size {
		pad = size - pos
	}
	if r.w+pad+need-r.r > size {
		return nil
	}
	if pad > 0 {
		binary.LittleEndian.PutUint32(r.buf[pos:], 0)
		r.w += pad
		pos = 0
	}
	binary.LittleEndian.PutUint32(r.buf[pos:], uint32(n))
	r.w += need
	return r.buf[pos+lenWord : pos+lenWord+uint64(n)]
}

// drain hands every record in the ring to fn, in order, and releases the
// space; it returns how many there were. fn may change the record but not
// keep it. One goroutine drains.
func (r *ring) drain(fn func(rec []byte)) int {
	r.mu.Lock()
	w, rd := r.w, r.r
	r.mu.Unlock()
	size := uint64(len(r.buf))
	n := 0
	released := rd
	for rd < w {
		pos := rd % size
		l := uint64(binary.LittleEndian.Uint32(r.buf[pos:]))
		if l == 0 {
			rd += size - pos
			continue
		}
		fn(r.buf[pos+lenWord : pos+lenWord+l])
		rd += align4(lenWord + l)
		n++
		if rd-released >= releaseEvery {
			r.mu.Lock()
			r.r, released = rd, rd
			r.mu.Unlock()
		}
	}
	r.mu.Lock()
	r.r = rd
	r.mu.Unlock()
	return n
}
