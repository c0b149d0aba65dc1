package storage

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// MaxProgressSize bounds one progress record.
const MaxProgressSize = 1 << 20

// SetProgress records, as part of the batch, the progress of topology on
// one partition of module: an opaque value (for example the depot offsets
// processed and the batch id) that [DB.Progress] returns once the batch is
// committed. It replaces the previous progress record.
func (b *Batch) SetProgress(module, topology string, partition uint32, value []byte) error {
	if err := b.check(); err != nil {
		return err
	}
	if err := ValidateName("module name", module); err != nil {
		return err
	}
	if err := ValidateName("topology name", topology); err != nil {
		return err
	}
	if len(value) > MaxProgressSize {
		return fmt.Errorf("storage: progress of topology %s/%s partition %d: %w", module, topology, partition,
			&sizeError{what: "the progress record", size: len(value), limit: MaxProgressSize, fix: "keep progress to offsets and ids"})
	}
	return b.pb.Set(objectPrefix(nil, module, partition, kindProgress, topology), value, nil)
}

// Progress returns the committed progress record of topology on one
// partition of module, and false when there is none. It is safe for
// concurrent use; the returned slice is the caller's.
func (db *DB) Progress(module, topology string, partition uint32) ([]byte, bool, error) {
	if err := db.beginRead(); err != nil {
		return nil, false, err
	}
	defer db.endRead()
	v, closer, err := db.pdb.Get(objectPrefix(nil, module, partition, kindProgress, topology))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: read progress of topology %s/%s partition %d: %w", module, topology, partition, err)
	}
	out := append([]byte{}, v...)
	_ = closer.Close()
	return out, true, nil
}
