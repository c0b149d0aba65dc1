// Command pausemod is a test module: a microbatch topology whose stage
// fails (asks for a retry) on every record {"fail": true}, so that the
// microbatch holding one keeps failing and the topology pauses; the other
// records are counted in the owned PState "done".
package main

import (
	"errors"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

func init() {
	squall.Define(func(m *squall.ModuleBuilder) {
		m.Name("pausemod")
		jobs := m.Depot("jobs", squall.Random())
		mb := m.Microbatch("work")
		done := mb.PState("done", squall.IntT)
		run := mb.Stage("run", func(ctx *squall.Ctx, job squall.Value) error {
			if f, _ := job.Field("fail").AsBool(); f {
				return errors.New("the ledger is unreachable")
			}
			return ctx.Aggregate(done, squall.Count())
		})
		mb.Source(jobs, run)
	})
}

func main() {}
