package squalltest

import squall "github.com/squall-run/squall/guest-sdks/go"

// HashKey returns the partitioning hash of a key (ABI.md §4.3): 64-bit
// FNV-1a over its canonical encoding, then the MurmurHash3 fmix64
// finalizer. The host, every SDK's harness and the clients compute it the
// same way.
func HashKey(key squall.Value) (uint64, error) {
	b, err := squall.Encode(key)
	if err != nil {
		return 0, err
	}
	return hashBytes(b), nil
}

func hashBytes(b []byte) uint64 {
	h := uint64(0xcbf29ce484222325)
	for _, c := range b {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// KeyPartition returns the partition, among partitions, that owns key:
// HashKey(key) mod partitions.
func KeyPartition(key squall.Value, partitions int) (int, error) {
	h, err := HashKey(key)
	if err != nil || partitions <= 0 {
		return 0, err
	}
	return int(h % uint64(partitions)), nil
}
