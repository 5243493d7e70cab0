//go:build linux

package vhostuser

import (
	"errors"
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// errAddress is wrapped by the errors of addresses and lengths outside the
// memory table.
var errAddress = errors.New("address outside the memory table")

// region is one mapped region of the frontend's memory.
type region struct {
	guest, user, size uint64
	data              []byte // size bytes: the region's memory
	mapping           []byte // the whole mmap, nil for memory not mapped here (tests)
}

// memTable is the frontend's memory as SET_MEM_TABLE described it. Every
// translation checks the whole range against one region, without
// wrapping around.
type memTable struct {
	n       int
	regions [MaxRegions]region
}

// contains reports whether [addr, addr+n) lies inside [base, base+size),
// and the offset of addr from base.
func contains(base, size, addr, n uint64) (uint64, bool) {
	if addr < base {
		return 0, false
	}
	off := addr - base
	if off >= size && n > 0 || off > size || n > size-off {
		return 0, false
	}
	return off, true
}

// guest returns the n bytes at guest-physical address addr, which must lie
// in one region.
func (t *memTable) guest(addr, n uint64) ([]byte, bool) {
	for i := range t.n {
		r := &t.regions[i]
		if off, ok := contains(r.guest, r.size, addr, n); ok {
			return r.data[off : off+n : off+n], true
		}
	}
	return nil, false
}

// guestPart returns the longest run of bytes, at most n, at guest-physical
// address addr that lies in one region: a buffer that straddles regions is
// taken a part at a time.
func (t *memTable) guestPart(addr, n uint64) ([]byte, bool) {
	for i := range t.n {
		r := &t.regions[i]
		if off, ok := contains(r.guest, r.size, addr, 1); ok {
			m := min(n, r.size-off)
			return r.data[off : off+m : off+m], true
		}
	}
	return nil, false
}

// check reports whether the n bytes at guest-physical address addr lie in
// the table, in one region or in several adjacent ones.
func (t *memTable) check(addr, n uint64) bool {
	for n > 0 {
		p, ok := t.guestPart(addr, n)
		if !ok {
			return false
		}
		addr += uint64(len(p))
		n -= uint64(len(p))
	}
	return true
}

// user returns the n bytes at the frontend-virtual address addr, which
// must lie in one region.
func (t *memTable) user(addr, n uint64) ([]byte, bool) {
	for i := range t.n {
		r := &t.regions[i]
		if off, ok := contains(r.user, r.size, addr, n); ok {
			return r.data[off : off+n : off+n], true
		}
	}
	return nil, false
}

// unmap undoes the table's mappings and empties it.
func (t *memTable) unmap() {
	for i := range t.n {
		if m := t.regions[i].mapping; m != nil {
			unix.Munmap(m)
		}
		t.regions[i] = region{}
	}
	t.n = 0
}

// mapTable maps the regions of a SET_MEM_TABLE message from their
// descriptors, which it closes. On error nothing stays mapped.
func mapTable(m *Message, fds []int) (t memTable, err error) {
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
		if err != nil {
			t.unmap()
		}
	}()
	for i := range m.NumRegions {
		r := m.Regions[i]
		if r.Size == 0 {
			return t, fmt.Errorf("memory region %d: size 0", i)
		}
		if r.GuestAddr+r.Size < r.GuestAddr || r.UserAddr+r.Size < r.UserAddr {
			return t, fmt.Errorf("memory region %d: %#x bytes at guest %#x, user %#x wrap around", i, r.Size, r.GuestAddr, r.UserAddr)
		}
		length := r.MmapOffset + r.Size
		if length < r.Size || length > 1<<47 {
			return t, fmt.Errorf("memory region %d: offset %#x and size %#x too large", i, r.MmapOffset, r.Size)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fds[i], &st); err != nil {
			return t, fmt.Errorf("memory region %d: %w", i, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return t, fmt.Errorf("memory region %d: descriptor is not a file (mode %#o)", i, st.Mode)
		}
		// Touching a mapping past the end of its file would fault: the
		// file must hold the whole region.
		if uint64(st.Size) < length {
			return t, fmt.Errorf("memory region %d: offset %#x and size %#x pass the file's %#x bytes", i, r.MmapOffset, r.Size, st.Size)
		}
		// hugetlbfs maps whole huge pages only (its block size).
		maplen := length
		if bs := uint64(st.Blksize); bs > 0 && bs&(bs-1) == 0 && maplen%bs != 0 && uint64(st.Size) >= (maplen+bs-1)&^(bs-1) {
			maplen = (maplen + bs - 1) &^ (bs - 1)
		}
		if maplen > math.MaxInt {
			return t, fmt.Errorf("memory region %d: %#x bytes do not fit this address space", i, maplen)
		}
		mapping, err := unix.Mmap(fds[i], 0, int(maplen), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return t, fmt.Errorf("memory region %d: map %#x bytes: %w", i, maplen, err)
		}
		t.regions[i] = region{
			guest: r.GuestAddr, user: r.UserAddr, size: r.Size,
			data:    mapping[r.MmapOffset:length:length],
			mapping: mapping,
		}
		t.n = i + 1
	}
	return t, nil
}
