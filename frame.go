package main

import (
	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// The L2TPv3 data header is defined in internal/l2tpv3; these names let
// the command line and the data path speak of it as the flags do.
type (
	Header   = l2tpv3.Header
	Sublayer = l2tpv3.Sublayer
)

const (
	SublayerNone    = l2tpv3.SublayerNone
	SublayerPinned  = l2tpv3.SublayerPinned
	SublayerCounter = l2tpv3.SublayerCounter

	ethHeaderLen = l2tpv3.EthHeaderLen
	maxOffset    = l2tpv3.MaxOffset
)
