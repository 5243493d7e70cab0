package vhostuser

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Request is a vhost-user message type (the header's request field).
type Request uint32

// The requests a frontend sends (vhost-user.rst, "Front-end message types").
const (
	ReqGetFeatures         Request = 1
	ReqSetFeatures         Request = 2
	ReqSetOwner            Request = 3
	ReqResetOwner          Request = 4
	ReqSetMemTable         Request = 5
	ReqSetLogBase          Request = 6
	ReqSetLogFD            Request = 7
	ReqSetVringNum         Request = 8
	ReqSetVringAddr        Request = 9
	ReqSetVringBase        Request = 10
	ReqGetVringBase        Request = 11
	ReqSetVringKick        Request = 12
	ReqSetVringCall        Request = 13
	ReqSetVringErr         Request = 14
	ReqGetProtocolFeatures Request = 15
	ReqSetProtocolFeatures Request = 16
	ReqGetQueueNum         Request = 17
	ReqSetVringEnable      Request = 18
	ReqSendRARP            Request = 19
	ReqNetSetMTU           Request = 20
)

var requestNames = [...]string{
	ReqGetFeatures:         "GET_FEATURES",
	ReqSetFeatures:         "SET_FEATURES",
	ReqSetOwner:            "SET_OWNER",
	ReqResetOwner:          "RESET_OWNER",
	ReqSetMemTable:         "SET_MEM_TABLE",
	ReqSetLogBase:          "SET_LOG_BASE",
	ReqSetLogFD:            "SET_LOG_FD",
	ReqSetVringNum:         "SET_VRING_NUM",
	ReqSetVringAddr:        "SET_VRING_ADDR",
	ReqSetVringBase:        "SET_VRING_BASE",
	ReqGetVringBase:        "GET_VRING_BASE",
	ReqSetVringKick:        "SET_VRING_KICK",
	ReqSetVringCall:        "SET_VRING_CALL",
	ReqSetVringErr:         "SET_VRING_ERR",
	ReqGetProtocolFeatures: "GET_PROTOCOL_FEATURES",
	ReqSetProtocolFeatures: "SET_PROTOCOL_FEATURES",
	ReqGetQueueNum:         "GET_QUEUE_NUM",
	ReqSetVringEnable:      "SET_VRING_ENABLE",
	ReqSendRARP:            "SEND_RARP",
	ReqNetSetMTU:           "NET_SET_MTU",
}

func (r Request) String() string {
	if int(r) < len(requestNames) && requestNames[r] != "" {
		return requestNames[r]
	}
	return fmt.Sprintf("request %d", uint32(r))
}

// Header flags.
const (
	flagVersionMask = 0x3
	flagVersion     = 0x1
	flagReply       = 1 << 2
	flagNeedReply   = 1 << 3
)

const (
	// HeaderLen is the size of a message header: request, flags, size.
	HeaderLen = 12
	// MaxPayload is the largest payload accepted; the largest message
	// this backend understands (SET_MEM_TABLE) has 264 bytes.
	MaxPayload = 4096
	// MaxRegions is the most memory regions SET_MEM_TABLE carries
	// (VHOST_MEMORY_BASELINE_NREGIONS).
	MaxRegions = 8
	// MaxFDs is the most descriptors one message may pass.
	MaxFDs = MaxRegions

	regionLen   = 32
	memTableLen = 8 // num_regions, padding
	stateLen    = 8
	addrLen     = 40

	// vringNoFD in SET_VRING_KICK/CALL/ERR's payload says no descriptor
	// is passed; its low byte is the ring index.
	vringNoFD     = 1 << 8
	vringIdxMask  = 0xff
	vringFlagsLog = 1 // VHOST_VRING_F_LOG in SET_VRING_ADDR
)

// ErrMessage is wrapped by every error ParseMessage returns.
var ErrMessage = errors.New("malformed vhost-user message")

// Region is one entry of SET_MEM_TABLE: Size bytes of guest memory at
// guest-physical address GuestAddr, at UserAddr in the frontend's address
// space, found at MmapOffset in the descriptor passed for it.
type Region struct {
	GuestAddr, Size, UserAddr, MmapOffset uint64
}

// VringState is a ring index and a number (SET_VRING_NUM, SET_VRING_BASE,
// GET_VRING_BASE, SET_VRING_ENABLE).
type VringState struct {
	Index, Num uint32
}

// VringAddr is SET_VRING_ADDR's payload: the frontend-virtual addresses of
// a ring's descriptor table, used ring and available ring.
type VringAddr struct {
	Index, Flags           uint32
	Desc, Used, Avail, Log uint64
}

// Message is one decoded message. Only the payload field its request
// uses is set.
type Message struct {
	Request    Request
	Flags      uint32
	Size       uint32
	U64        uint64
	State      VringState
	Addr       VringAddr
	NumRegions int
	Regions    [MaxRegions]Region
}

// NeedReply reports whether the frontend asked for a REPLY_ACK.
func (m *Message) NeedReply() bool { return m.Flags&flagNeedReply != 0 }

// Messages are in the host's byte order (vhost-user.rst: "All numbers are
// in the machine native byte order"); the rings are little-endian.

// ParseHeader checks a message header and returns the payload size it
// announces.
func ParseHeader(b []byte) (size int, err error) {
	if len(b) < HeaderLen {
		return 0, fmt.Errorf("%w: %d-byte header, want %d", ErrMessage, len(b), HeaderLen)
	}
	flags := binary.NativeEndian.Uint32(b[4:])
	if flags&flagVersionMask != flagVersion {
		return 0, fmt.Errorf("%w: version %d, want %d", ErrMessage, flags&flagVersionMask, flagVersion)
	}
	if flags&flagReply != 0 {
		return 0, fmt.Errorf("%w: a reply where a request belongs", ErrMessage)
	}
	n := binary.NativeEndian.Uint32(b[8:])
	if n > MaxPayload {
		return 0, fmt.Errorf("%w: %s with a %d-byte payload, the most is %d", ErrMessage, Request(binary.NativeEndian.Uint32(b)), n, MaxPayload)
	}
	return int(n), nil
}

// ParseMessage decodes the message in b (header and payload, nothing
// after) that arrived with nfds descriptors, and checks the payload's
// size and the descriptor count against what its request carries. A
// request this backend does not know parses with its payload left
// undecoded, for the caller to refuse. It never allocates.
func ParseMessage(b []byte, nfds int, m *Message) error {
	size, err := ParseHeader(b)
	if err != nil {
		return err
	}
	*m = Message{
		Request: Request(binary.NativeEndian.Uint32(b)),
		Flags:   binary.NativeEndian.Uint32(b[4:]),
		Size:    uint32(size),
	}
	p := b[HeaderLen:]
	if len(p) != size {
		return fmt.Errorf("%w: %s announces %d payload bytes, has %d", ErrMessage, m.Request, size, len(p))
	}
	wantFDs := 0
	switch m.Request {
	case ReqGetFeatures, ReqGetProtocolFeatures, ReqGetQueueNum, ReqSetOwner, ReqResetOwner:
		// No payload is defined; some frontends send a zero u64.
		if size != 0 && size != 8 {
			return sizeError(m, 0)
		}
	case ReqSetFeatures, ReqSetProtocolFeatures, ReqNetSetMTU:
		if size != 8 {
			return sizeError(m, 8)
		}
		m.U64 = binary.NativeEndian.Uint64(p)
	case ReqSetVringKick, ReqSetVringCall, ReqSetVringErr:
		if size != 8 {
			return sizeError(m, 8)
		}
		m.U64 = binary.NativeEndian.Uint64(p)
		if m.U64&^(vringNoFD|vringIdxMask) != 0 {
			return fmt.Errorf("%w: %s with unknown bits in %#x", ErrMessage, m.Request, m.U64)
		}
		if m.U64&vringNoFD == 0 {
			wantFDs = 1
		}
	case ReqSetVringNum, ReqSetVringBase, ReqGetVringBase, ReqSetVringEnable:
		if size != stateLen {
			return sizeError(m, stateLen)
		}
		m.State = VringState{binary.NativeEndian.Uint32(p), binary.NativeEndian.Uint32(p[4:])}
	case ReqSetVringAddr:
		if size != addrLen {
			return sizeError(m, addrLen)
		}
		m.Addr = VringAddr{
			Index: binary.NativeEndian.Uint32(p),
			Flags: binary.NativeEndian.Uint32(p[4:]),
			Desc:  binary.NativeEndian.Uint64(p[8:]),
			Used:  binary.NativeEndian.Uint64(p[16:]),
			Avail: binary.NativeEndian.Uint64(p[24:]),
			Log:   binary.NativeEndian.Uint64(p[32:]),
		}
	case ReqSetMemTable:
		if size < memTableLen {
			return sizeError(m, memTableLen)
		}
		n := binary.NativeEndian.Uint32(p)
		if n > MaxRegions {
			return fmt.Errorf("%w: %d memory regions, the most is %d", ErrMessage, n, MaxRegions)
		}
		// QEMU sends the whole array of MaxRegions; others only n.
		if size != memTableLen+int(n)*regionLen && size != memTableLen+MaxRegions*regionLen {
			return sizeError(m, memTableLen+int(n)*regionLen)
		}
		m.NumRegions = int(n)
		for i := range m.NumRegions {
			r := p[memTableLen+i*regionLen:]
			m.Regions[i] = Region{
				GuestAddr:  binary.NativeEndian.Uint64(r),
				Size:       binary.NativeEndian.Uint64(r[8:]),
				UserAddr:   binary.NativeEndian.Uint64(r[16:]),
				MmapOffset: binary.NativeEndian.Uint64(r[24:]),
			}
		}
		wantFDs = m.NumRegions
	default:
		// Unknown or not offered: the caller refuses it; its descriptors
		// are closed whatever their number.
		return nil
	}
	if nfds != wantFDs {
		return fmt.Errorf("%w: %s with %d descriptors, want %d", ErrMessage, m.Request, nfds, wantFDs)
	}
	return nil
}

func sizeError(m *Message, want int) error {
	return fmt.Errorf("%w: %s with a %d-byte payload, want %d", ErrMessage, m.Request, m.Size, want)
}

// appendReply appends a reply to req with payload p to b.
func appendReply(b []byte, req Request, p []byte) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(req))
	b = binary.NativeEndian.AppendUint32(b, flagVersion|flagReply)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}
