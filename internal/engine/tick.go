package engine

import (
	"context"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// TickRetention is how many records a tick depot keeps per partition;
// older ticks are trimmed.
const TickRetention = 10_000

// runTick appends the tick records of tick depot d (ABI.md §15.1): every
// period, the tick's due time in Unix milliseconds, to partition 0, until
// the module drains or stops. A tick that comes late (the store was slow)
// is appended once, with the latest due time: time.Ticker drops the ticks
// a slow receiver misses.
func (m *module) runTick(d *depotInfo) {
	tk := time.NewTicker(d.tick)
	defer tk.Stop()
	for {
		select {
		case <-m.drainCh:
			return
		case <-m.ctx.Done():
			return
		case now := <-tk.C:
			due := now.Truncate(time.Millisecond).UnixMilli()
			enc, _ := abi.Encode(abi.Int(due))
			if _, err := d.d.AppendNoSync(context.WithoutCancel(m.ctx), 0, storage.Record{Value: enc}); err != nil {
				if m.ctx.Err() == nil {
					m.e.log.Error("engine: a tick could not be appended; the tick depot stops", "module", m.name, "depot", d.def.Name, "err", err)
				}
				return
			}
			m.parts[0].kick()
			d.kickMBs()
		}
	}
}
