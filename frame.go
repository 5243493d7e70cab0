package main

import (
	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// The L2TPv3 data header and the drop reasons are defined in
// internal/l2tpv3; these names let the command line and the data path
// speak of them as the flags do.
type (
	Header   = l2tpv3.Header
	Decoded  = l2tpv3.Decoded
	Sublayer = l2tpv3.Sublayer
	Reason   = l2tpv3.Reason
)

const (
	SublayerNone    = l2tpv3.SublayerNone
	SublayerPinned  = l2tpv3.SublayerPinned
	SublayerCounter = l2tpv3.SublayerCounter

	DropNone      = l2tpv3.DropNone
	DropShort     = l2tpv3.DropShort
	DropVersion   = l2tpv3.DropVersion
	DropControl   = l2tpv3.DropControl
	DropSession   = l2tpv3.DropSession
	DropCookie    = l2tpv3.DropCookie
	DropSequence  = l2tpv3.DropSequence
	DropTruncated = l2tpv3.DropTruncated
	DropSource    = l2tpv3.DropSource
	numReasons    = l2tpv3.NumReasons

	ethHeaderLen = l2tpv3.EthHeaderLen
	maxHeaderLen = l2tpv3.MaxHeaderLen
	maxOffset    = l2tpv3.MaxOffset
	seqMask      = l2tpv3.SeqMask
)
