package storage

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Key layout of the node's one Pebble DB (format version 1). Every key starts
// with a space byte:
//
//	0x00 "format"                                        format version (uint32, big endian)
//	0x01 module 0x00                                     module-level metadata (reserved)
//	0x02 module 0x00 partition(u32 BE) kind name 0x00 …  partition data
//
// Partition data is addressed by one prefix per (module, partition), so a
// partition can be snapshotted, moved or dropped with one key range. The
// kind byte splits it further:
//
//	'd' depot log:   … offset(u64 BE)            → record
//	'D' depot meta:  (nothing more)              → depot bounds
//	's' PState:      … keyenc(k1) keyenc(k2) …   → value or node metadata
//	'p' progress:    (nothing more)              → opaque progress record
//
// Names (modules, depots, PStates, topologies) are validated identifiers that
// never contain 0x00, so "name 0x00" is self-delimiting and order-preserving.
const (
	spaceFormat    byte = 0x00
	spaceModule    byte = 0x01
	spacePartition byte = 0x02

	kindDepot     byte = 'd'
	kindDepotMeta byte = 'D'
	kindPState    byte = 's'
	kindProgress  byte = 'p'
)

// formatKey holds the on-disk format version.
var formatKey = []byte("\x00format")

// MaxNameLen bounds module, depot, PState and topology names.
const MaxNameLen = 128

// ValidateName reports whether name can be used for a module, depot, PState
// or topology: 1 to MaxNameLen bytes of ASCII letters, digits and "_-.$",
// starting with a letter, '_' or '$'. what names the thing ("depot name").
func ValidateName(what, name string) error {
	if name == "" {
		return fmt.Errorf("storage: %s is empty", what)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("storage: %s %.20q... is %d bytes; the limit is %d", what, name, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')
		if !ok {
			return fmt.Errorf("storage: %s %q has %q at byte %d; use letters, digits, '_', '-', '.', '$' and start with a letter, '_' or '$'",
				what, name, string(rune(c)), i)
		}
	}
	return nil
}

// partitionPrefix returns the prefix of every key of one (module, partition).
func partitionPrefix(dst []byte, module string, partition uint32) []byte {
	dst = append(dst, spacePartition)
	dst = append(dst, module...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint32(dst, partition)
}

// objectPrefix returns the prefix of the keys of one named object (depot log,
// depot meta, PState, progress record) of one partition.
func objectPrefix(dst []byte, module string, partition uint32, kind byte, name string) []byte {
	dst = partitionPrefix(dst, module, partition)
	dst = append(dst, kind)
	dst = append(dst, name...)
	return append(dst, 0)
}

// modulePrefix returns the prefix of every key of a module's partitions.
func modulePrefix(module string) []byte {
	return append(append([]byte{spacePartition}, module...), 0)
}

// prefixEnd returns the smallest key greater than every key with prefix p, or
// nil when there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// describeKey renders a key for error messages and debugging.
func describeKey(k []byte) string {
	var b strings.Builder
	for _, c := range k {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	return b.String()
}
