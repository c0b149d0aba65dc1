package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/internal/apiconv"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/pathtext"
)

// clientCommand parses a client command's flags and runs fn with a client.
func clientCommand(args []string, stdout io.Writer, name, synopsis string, nargs int, extra func(fs *flag.FlagSet), fn func(c *client.Client, cf *clientFlags, pos []string) error) error {
	fs := newFlagSet(name, stdout, synopsis)
	var cf clientFlags
	cf.register(fs)
	if extra != nil {
		extra(fs)
	}
	pos, err := parseInterspersed(fs, args, synopsis)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, nargs, synopsis); err != nil {
		return err
	}
	c, err := newClient(cf.addr, cf.token)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c, &cf, pos)
}

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "squall deploy FILE.wasm [--tasks N] [--name NAME] [--validate-only]"
	var tasks uint
	var name string
	var validate, quiet bool
	return clientCommand(args, stdout, "deploy", syn, 1, func(fs *flag.FlagSet) {
		fs.UintVar(&tasks, "tasks", 4, "number of partitions: a power of two, fixed at first deploy")
		fs.StringVar(&name, "name", "", "deploy under this name (default: the name the module declares)")
		fs.BoolVar(&validate, "validate-only", false, "check the module and print its description without deploying it")
		fs.BoolVar(&quiet, "quiet", false, "do not report the upload's progress on stderr")
	}, func(c *client.Client, cf *clientFlags, pos []string) error {
		wasm, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		opts := client.DeployOptions{Name: name, Tasks: uint32(tasks), ValidateOnly: validate}
		if !quiet {
			opts.Progress = progressLine(stderr, filepath.Base(pos[0]))
		}
		desc, err := c.Deploy(ctx, wasm, opts)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, desc)
		}
		verb := "deployed"
		if validate {
			verb = "is valid (not deployed)"
		}
		fmt.Fprintf(stdout, "module %q %s with %d tasks\n", desc.GetName(), verb, desc.GetTasks())
		printDescription(stdout, desc)
		return nil
	})
}

func runUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "squall update MODULE FILE.wasm|DIR [--validate-only] [--quiet]"
	var validate, quiet bool
	return clientCommand(args, stdout, "update", syn, 2, func(fs *flag.FlagSet) {
		fs.BoolVar(&validate, "validate-only", false, "check the artifact and that the update is allowed without updating")
		fs.BoolVar(&quiet, "quiet", false, "do not report the upload's progress on stderr")
	}, func(c *client.Client, cf *clientFlags, pos []string) error {
		file := pos[1]
		if st, err := os.Stat(file); err != nil {
			return err
		} else if st.IsDir() {
			tmp, err := os.MkdirTemp("", "squall-update-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			out := filepath.Join(tmp, "module.wasm")
			fmt.Fprintf(stderr, "building %s ...", file)
			if _, err := build.Module(ctx, file, out); err != nil {
				fmt.Fprintln(stderr, " failed")
				return err
			}
			fmt.Fprintln(stderr, " done")
			file = out
		}
		wasm, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		opts := client.UpdateOptions{ValidateOnly: validate}
		if !quiet {
			opts.Progress = progressLine(stderr, filepath.Base(pos[1]))
		}
		desc, err := c.Update(ctx, pos[0], wasm, opts)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, &squallv1.UpdateResponse{Module: desc})
		}
		verb := "updated"
		if validate {
			verb = "can be updated (not updated)"
		}
		fmt.Fprintf(stdout, "module %q %s (generation %d)\n", desc.GetName(), verb, desc.GetGeneration())
		return nil
	})
}

func runDestroy(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall destroy MODULE [--yes]"
	var yes bool
	return clientCommand(args, stdout, "destroy", syn, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&yes, "yes", false, "really destroy the module and delete all its data")
	}, func(c *client.Client, cf *clientFlags, pos []string) error {
		if !yes {
			d, err := c.Describe(ctx, pos[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "destroying module %s would delete, for good, its artifact and all its data:\n", d.GetName())
			printDescription(stdout, d)
			return fmt.Errorf("%w: %s: nothing was deleted; add --yes to destroy module %q", errUsage, syn, pos[0])
		}
		if err := c.Destroy(ctx, pos[0]); err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, &squallv1.DestroyResponse{})
		}
		fmt.Fprintf(stdout, "module %q destroyed\n", pos[0])
		return nil
	})
}

func runModules(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall modules"
	return clientCommand(args, stdout, "modules", syn, 0, nil, func(c *client.Client, cf *clientFlags, _ []string) error {
		mods, err := c.Modules(ctx)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, &squallv1.ListResponse{Modules: mods})
		}
		if len(mods) == 0 {
			fmt.Fprintln(stdout, "no module is deployed")
		}
		for _, m := range mods {
			fmt.Fprintf(stdout, "%s\t%s\ttasks=%d\tsize=%d\n", m.GetName(), stateName(m.GetState()), m.GetTasks(), m.GetArtifact().GetSizeBytes())
		}
		return nil
	})
}

func stateName(s squallv1.ModuleState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "MODULE_STATE_"))
}

func runDescribe(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall describe MODULE"
	return clientCommand(args, stdout, "describe", syn, 1, nil, func(c *client.Client, cf *clientFlags, pos []string) error {
		d, err := c.Describe(ctx, pos[0])
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, &squallv1.DescribeResponse{Module: d})
		}
		fmt.Fprintf(stdout, "module %s (%s, %d tasks)\n", d.GetName(), stateName(d.GetState()), d.GetTasks())
		printDescription(stdout, d)
		return nil
	})
}

// printDescription prints a module's depots, PStates and topologies.
func printDescription(w io.Writer, d *squallv1.ModuleDescription) {
	for _, dp := range d.GetDepots() {
		kind := strings.ToLower(strings.TrimPrefix(dp.GetPartitioner().GetKind().String(), "PARTITIONER_KIND_"))
		if k := dp.GetPartitioner().GetKey(); k != nil && kind == "hash" {
			if p, err := apiconv.PathFromProto("key", k, 0); err == nil && len(p) > 0 {
				kind += " by " + p.String()
			}
		}
		fmt.Fprintf(w, "  depot    %s (%s)\n", dp.GetName(), kind)
	}
	for _, ps := range d.GetPstates() {
		schema := ""
		if s, err := apiconv.SchemaFromProto("schema", ps.GetSchema()); err == nil {
			schema = s.Value().String()
		}
		g := ""
		if ps.GetGlobal() {
			g = " global"
		}
		fmt.Fprintf(w, "  pstate   %s %s%s\n", ps.GetName(), schema, g)
	}
	for _, t := range d.GetTopologies() {
		var srcs []string
		for _, s := range t.GetSources() {
			srcs = append(srcs, s.GetDepot()+"→"+s.GetStage())
		}
		kind := ""
		if t.GetKind() == squallv1.TopologyKind_TOPOLOGY_KIND_MICROBATCH {
			kind = " (microbatch)"
		}
		fmt.Fprintf(w, "  topology %s%s: stages %s; sources %s\n", t.GetName(), kind, strings.Join(t.GetStages(), ", "), strings.Join(srcs, ", "))
	}
	for _, q := range d.GetQueries() {
		fmt.Fprintf(w, "  query    %s(%s): stages %s\n", q.GetName(), strings.Join(q.GetArgs(), ", "), strings.Join(q.GetStages(), ", "))
	}
}

func runAppend(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall append MODULE DEPOT RECORD [--ack none|append|ack]"
	var ack string
	return clientCommand(args, stdout, "append", syn, 3, func(fs *flag.FlagSet) {
		fs.StringVar(&ack, "ack", "ack", "wait until the record is written (none), durable (append) or processed by every topology (ack)")
	}, func(c *client.Client, cf *clientFlags, pos []string) error {
		level, err := client.ParseAckLevel(ack)
		if err != nil {
			return fmt.Errorf("%w: --ack %q: use none, append or ack", errUsage, ack)
		}
		v, err := parseValue(pos[2])
		if err != nil {
			return fmt.Errorf("%w: RECORD: %v", errUsage, err)
		}
		res, err := c.Append(ctx, pos[0], pos[1], v, level)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, &squallv1.AppendResponse{Partition: res.Partition, Offset: res.Offset,
				AckReturns: apiconv.ValueMapToProto(res.AckReturns)})
		}
		fmt.Fprintf(stdout, "appended to partition %d at offset %d\n", res.Partition, res.Offset)
		for _, k := range slices.Sorted(maps.Keys(res.AckReturns)) {
			fmt.Fprintf(stdout, "%s returned %s\n", k, res.AckReturns[k])
		}
		return nil
	})
}

func runSelect(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall select MODULE PSTATE PATH [--one] [--partition N]"
	var one bool
	var partition int
	return clientCommand(args, stdout, "select", syn, 3, func(fs *flag.FlagSet) {
		fs.BoolVar(&one, "one", false, "the path must navigate to exactly one value (SelectOne)")
		fs.IntVar(&partition, "partition", -1, "read this partition (default: the one owning the path's first key)")
	}, func(c *client.Client, cf *clientFlags, pos []string) error {
		p, err := pathtext.Parse(pos[2])
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if _, err := apiconv.PathToProto(p); err != nil {
			return fmt.Errorf("%w: path: %v", errUsage, err)
		}
		var opts []client.SelectOption
		if partition >= 0 {
			opts = append(opts, client.OnPartition(uint32(partition)))
		}
		if one {
			v, err := c.SelectOne(ctx, pos[0], pos[1], p, opts...)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, &squallv1.SelectOneResponse{Value: apiconv.ValueToProto(v)})
			}
			fmt.Fprintln(stdout, v)
			return nil
		}
		vs, err := c.Select(ctx, pos[0], pos[1], p, opts...)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, &squallv1.SelectResponse{Values: apiconv.ValuesToProto(vs)})
		}
		for _, v := range vs {
			fmt.Fprintln(stdout, v)
		}
		return nil
	})
}

func runStatus(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall status"
	return clientCommand(args, stdout, "status", syn, 0, nil, func(c *client.Client, cf *clientFlags, _ []string) error {
		res, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, res)
		}
		n := res.GetNode()
		fmt.Fprintf(stdout, "node %s at %s, squall %s, %s, %d partitions\n", n.GetId(), n.GetAddress(), n.GetVersion(),
			strings.ToLower(strings.TrimPrefix(n.GetState().String(), "NODE_STATE_")), n.GetPartitions())
		for _, m := range res.GetModules() {
			fmt.Fprintf(stdout, "module %s: %s, %d tasks\n", m.GetName(), stateName(m.GetState()), m.GetTasks())
			for _, t := range m.GetTopologies() {
				fmt.Fprintf(stdout, "  topology %s: lag %d%s\n", t.GetName(), t.GetLag(), topologyState(t))
			}
		}
		return nil
	})
}

// topologyState describes a microbatch topology's state for status.
func topologyState(t *squallv1.TopologyStatus) string {
	if t.GetKind() != squallv1.TopologyKind_TOPOLOGY_KIND_MICROBATCH {
		return ""
	}
	s := fmt.Sprintf(", %d microbatches", t.GetMicrobatches())
	switch {
	case t.GetPaused():
		s += ", PAUSED: " + t.GetError()
	case t.GetError() != "":
		s += ", retrying: " + t.GetError()
	}
	return s
}

func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "squall build DIR [-o OUT.wasm] [--json]"
	fs := newFlagSet("build", stdout, syn)
	out := fs.String("o", "", "output file (default: DIR's base name + .wasm in the current directory)")
	asJSON := fs.Bool("json", false, `print {"output": FILE, "sizeBytes": N} as JSON`)
	pos, err := parseInterspersed(fs, args, syn)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, syn); err != nil {
		return err
	}
	if *out == "" {
		abs, err := filepath.Abs(pos[0])
		if err != nil {
			return err
		}
		*out = moduleBaseName(abs) + ".wasm"
	}
	began := time.Now()
	fmt.Fprintf(stderr, "building %s ...", pos[0])
	if _, err := build.Module(ctx, pos[0], *out); err != nil {
		fmt.Fprintln(stderr, " failed")
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		fmt.Fprintln(stderr)
		return err
	}
	fmt.Fprintf(stderr, " done in %.1fs\n", time.Since(began).Seconds())
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"output": *out, "sizeBytes": st.Size()})
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, st.Size())
	return nil
}

// moduleBaseName names a module folder: examples/wordcount/go is
// "wordcount", not "go" (likewise for the other languages' folders).
func moduleBaseName(abs string) string {
	base := filepath.Base(abs)
	if base == "go" || base == "rust" || base == "typescript" || base == "python" {
		base = filepath.Base(filepath.Dir(abs))
	}
	return base
}
