package l2tpv3

// SeqResult is what Sequence.Check makes of one sequence number.
type SeqResult uint8

const (
	// SeqInOrder: the expected number, or one ahead of it (packets lost).
	SeqInOrder SeqResult = iota
	// SeqOutOfOrder: behind the expected number, a late or repeated packet.
	SeqOutOfOrder
	// SeqResync: out of order, but taken as the peer's new numbering (see
	// Sequence); the packet is to be delivered.
	SeqResync
)

// ResyncAfter is how many out-of-order packets in a row Sequence tolerates
// before it adopts the peer's numbering with the next one, as Linux's
// nr_oos_count_max does.
const ResyncAfter = 4

// Sequence follows a peer's 24-bit sequence numbers. A number ahead of the
// expected one (by less than half the space) is in order and the gap is
// lost packets; a number behind it is out of order. A peer that restarts
// numbers its packets from 0 again, which would make every packet out of
// order until its count caught up with the old one; so Sequence takes the
// peer's numbering as the new expectation (SeqResync) after more than
// ResyncAfter out-of-order packets in a row, and at once when an
// out-of-order packet carries number 0, the first number of a restarted
// peer. The zero value expects nothing and adopts the first number seen.
type Sequence struct {
	next uint32
	seen bool
	oos  int // out-of-order packets in a row
}

// Check classifies nr and returns, for SeqInOrder, how many packets the gap
// before it says were lost.
func (s *Sequence) Check(nr uint32) (res SeqResult, lost uint32) {
	nr &= SeqMask
	ahead := (nr - s.next) & SeqMask
	switch {
	case !s.seen:
		s.seen = true
		ahead = 0
	case ahead >= 1<<23:
		s.oos++
		if s.oos <= ResyncAfter && nr != 0 {
			return SeqOutOfOrder, 0
		}
		res, ahead = SeqResync, 0
	}
	s.oos = 0
	s.next = (nr + 1) & SeqMask
	return res, ahead
}

func (r SeqResult) String() string {
	switch r {
	case SeqInOrder:
		return "in order"
	case SeqOutOfOrder:
		return "out of order"
	case SeqResync:
		return "resync"
	}
	return "invalid"
}
