package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"connectrpc.com/connect"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/pathtext"
)

// clientCommand parses a client command's flags and runs fn with a client.
func clientCommand(args []string, stdout io.Writer, name, synopsis string, nargs int, extra func(fs *flag.FlagSet), fn func(c *apiClient, cf *clientFlags, pos []string) error) error {
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
	defer c.close()
	return errorMessage(fn(c, &cf, pos))
}

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "squall deploy FILE.wasm [--tasks N] [--name NAME] [--validate-only]"
	var tasks uint
	var name string
	var validate bool
	return clientCommand(args, stdout, "deploy", syn, 1, func(fs *flag.FlagSet) {
		fs.UintVar(&tasks, "tasks", 4, "number of partitions: a power of two, fixed at first deploy")
		fs.StringVar(&name, "name", "", "deploy under this name (default: the name the module declares)")
		fs.BoolVar(&validate, "validate-only", false, "check the module and print its description without deploying it")
	}, func(c *apiClient, cf *clientFlags, pos []string) error {
		wasm, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		desc, err := c.deploy(ctx, name, uint32(tasks), wasm, validate, stderr)
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

func runModules(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall modules"
	return clientCommand(args, stdout, "modules", syn, 0, nil, func(c *apiClient, cf *clientFlags, _ []string) error {
		res, err := c.modules.List(ctx, connect.NewRequest(&squallv1.ListRequest{}))
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, res.Msg)
		}
		if len(res.Msg.GetModules()) == 0 {
			fmt.Fprintln(stdout, "no module is deployed")
		}
		for _, m := range res.Msg.GetModules() {
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
	return clientCommand(args, stdout, "describe", syn, 1, nil, func(c *apiClient, cf *clientFlags, pos []string) error {
		res, err := c.modules.Describe(ctx, connect.NewRequest(&squallv1.DescribeRequest{Module: pos[0]}))
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, res.Msg)
		}
		d := res.Msg.GetModule()
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
		fmt.Fprintf(w, "  topology %s: stages %s; sources %s\n", t.GetName(), strings.Join(t.GetStages(), ", "), strings.Join(srcs, ", "))
	}
}

var ackLevels = map[string]squallv1.AckLevel{
	"none":   squallv1.AckLevel_ACK_LEVEL_NONE,
	"append": squallv1.AckLevel_ACK_LEVEL_APPEND_ACK,
	"ack":    squallv1.AckLevel_ACK_LEVEL_ACK,
}

func runAppend(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall append MODULE DEPOT RECORD [--ack none|append|ack]"
	var ack string
	return clientCommand(args, stdout, "append", syn, 3, func(fs *flag.FlagSet) {
		fs.StringVar(&ack, "ack", "ack", "wait until the record is written (none), durable (append) or processed by every topology (ack)")
	}, func(c *apiClient, cf *clientFlags, pos []string) error {
		level, ok := ackLevels[ack]
		if !ok {
			return fmt.Errorf("%w: --ack %q: use none, append or ack", errUsage, ack)
		}
		v, err := parseValue(pos[2])
		if err != nil {
			return fmt.Errorf("%w: RECORD: %v", errUsage, err)
		}
		res, err := c.depots.Append(ctx, connect.NewRequest(&squallv1.AppendRequest{Module: pos[0], Depot: pos[1],
			Record: apiconv.ValueToProto(v), AckLevel: level}))
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, res.Msg)
		}
		fmt.Fprintf(stdout, "appended to partition %d at offset %d\n", res.Msg.GetPartition(), res.Msg.GetOffset())
		rets := res.Msg.GetAckReturns()
		for _, k := range slices.Sorted(mapKeys(rets)) {
			rv, err := apiconv.ValueFromProto("ack_returns", rets[k])
			if err == nil {
				fmt.Fprintf(stdout, "%s returned %s\n", k, rv)
			}
		}
		return nil
	})
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func runSelect(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall select MODULE PSTATE PATH [--one] [--partition N]"
	var one bool
	var partition int
	return clientCommand(args, stdout, "select", syn, 3, func(fs *flag.FlagSet) {
		fs.BoolVar(&one, "one", false, "the path must navigate to exactly one value (SelectOne)")
		fs.IntVar(&partition, "partition", -1, "read this partition (default: the one owning the path's first key)")
	}, func(c *apiClient, cf *clientFlags, pos []string) error {
		p, err := pathtext.Parse(pos[2])
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		pp, err := apiconv.PathToProto(p)
		if err != nil {
			return fmt.Errorf("%w: path: %v", errUsage, err)
		}
		var part *uint32
		if partition >= 0 {
			u := uint32(partition)
			part = &u
		}
		if one {
			res, err := c.pstates.SelectOne(ctx, connect.NewRequest(&squallv1.SelectOneRequest{Module: pos[0], Pstate: pos[1], Path: pp, Partition: part}))
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, res.Msg)
			}
			v, err := apiconv.ValueFromProto("value", res.Msg.GetValue())
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, v)
			return nil
		}
		res, err := c.pstates.Select(ctx, connect.NewRequest(&squallv1.SelectRequest{Module: pos[0], Pstate: pos[1], Path: pp, Partition: part}))
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, res.Msg)
		}
		vs, err := apiconv.ValuesFromProto("values", res.Msg.GetValues())
		if err != nil {
			return err
		}
		for _, v := range vs {
			fmt.Fprintln(stdout, v)
		}
		return nil
	})
}

func runStatus(ctx context.Context, args []string, stdout io.Writer) error {
	const syn = "squall status"
	return clientCommand(args, stdout, "status", syn, 0, nil, func(c *apiClient, cf *clientFlags, _ []string) error {
		res, err := c.cluster.Status(ctx, connect.NewRequest(&squallv1.StatusRequest{}))
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, res.Msg)
		}
		n := res.Msg.GetNode()
		fmt.Fprintf(stdout, "node %s at %s, squall %s, %s, %d partitions\n", n.GetId(), n.GetAddress(), n.GetVersion(),
			strings.ToLower(strings.TrimPrefix(n.GetState().String(), "NODE_STATE_")), n.GetPartitions())
		for _, m := range res.Msg.GetModules() {
			fmt.Fprintf(stdout, "module %s: %s, %d tasks\n", m.GetName(), stateName(m.GetState()), m.GetTasks())
			for _, t := range m.GetTopologies() {
				fmt.Fprintf(stdout, "  topology %s: lag %d\n", t.GetName(), t.GetLag())
			}
		}
		return nil
	})
}

func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "squall build DIR [-o OUT.wasm]"
	fs := newFlagSet("build", stdout, syn)
	out := fs.String("o", "", "output file (default: DIR's base name + .wasm in the current directory)")
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
	fmt.Fprintf(stderr, "building %s ...\n", pos[0])
	if err := build.Go(ctx, pos[0], *out); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, st.Size())
	return nil
}

// moduleBaseName names a module folder: examples/wordcount/go is
// "wordcount", not "go".
func moduleBaseName(abs string) string {
	base := filepath.Base(abs)
	if base == "go" {
		base = filepath.Base(filepath.Dir(abs))
	}
	return base
}
