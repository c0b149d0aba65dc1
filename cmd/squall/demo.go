package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

const (
	demoModule     = "demo"
	demoPartitions = 4
	demoTopology   = "wordcount"
)

var demoSentences = []string{
	"the quick brown fox jumps over the lazy dog",
	"a journey of a thousand miles begins with a single step",
	"the only way to do great work is to love what you do",
	"squall keeps the log the index and the dataflow in one place",
}

// runDemo shows the storage core end to end without a server: durable depot
// appends, a processing batch that turns new records into PState changes and
// progress atomically, and path queries on a plain and a subindexed PState.
// Each run appends the sentences again, so the counts grow across runs.
func runDemo(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(w)
	dir := fs.String("data-dir", ".squall", "data directory (created if missing)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: squall demo [--data-dir DIR]: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: squall demo [--data-dir DIR]; unexpected argument %q", errUsage, fs.Arg(0))
	}

	db, err := storage.Open(*dir, storage.Options{})
	if err != nil {
		return err
	}
	defer db.Close()

	sentences, err := db.Depot(demoModule, "sentences", storage.DepotOptions{})
	if err != nil {
		return err
	}
	counts, err := storage.NewPState(demoModule, "$$wordCounts",
		storage.MapOf(storage.Leaf(storage.TypeString), storage.Leaf(storage.TypeInt)))
	if err != nil {
		return err
	}
	byLength, err := storage.NewPState(demoModule, "$$wordsByLength",
		storage.MapOf(storage.Leaf(storage.TypeInt), storage.SetOf(storage.Leaf(storage.TypeString)).Subindexed()))
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "Squall storage demo: data in %s (run it again; everything is durable)\n\n", *dir)

	// 1. Durable appends, partitioned by the hash of the record's key, as the
	// engine will do for a depot declared with a hash partitioner.
	fmt.Fprintf(w, "1. Append %d sentences to depot %q (%d partitions, fsync'd, group commit):\n", len(demoSentences), "sentences", demoPartitions)
	for i, s := range demoSentences {
		key, err := abi.Encode(abi.Int(int64(i)))
		if err != nil {
			return err
		}
		val, err := abi.Encode(abi.String(s))
		if err != nil {
			return err
		}
		p := abi.KeyPartition(key, demoPartitions)
		off, err := sentences.Append(ctx, p, storage.Record{Key: key, Value: val})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   partition %d offset %-3d %q\n", p, off, s)
	}

	// 2. Process what is new on each partition: one atomic batch per source
	// partition carries the word counts (on the words' own partitions, as a
	// hop would place them) and the source partition's progress.
	fmt.Fprintf(w, "\n2. Process new records into PStates, one atomic batch per source partition:\n")
	for p := uint32(0); p < demoPartitions; p++ {
		n, from, next, err := demoProcess(ctx, db, sentences, counts, byLength, p)
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(w, "   partition %d: offsets %d..%d -> %d word updates, progress %d\n", p, from, next-1, n, next)
		}
	}

	// 3. Queries with paths.
	fmt.Fprintf(w, "\n3. Query PStates with paths:\n")
	for _, word := range []string{"the", "a", "squall"} {
		path := abi.P().Key(abi.String(word))
		v, err := db.SelectOne(counts, wordPartition(word), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   $$wordCounts   selectOne %-38s = %v\n", path, v)
	}
	type wc struct {
		word  string
		count int64
	}
	var all []wc
	for p := uint32(0); p < demoPartitions; p++ {
		entries, err := db.Select(counts, p, abi.P().All())
		if err != nil {
			return err
		}
		for _, e := range entries {
			k, _ := e.Index(0).AsString()
			c, _ := e.Index(1).AsInt()
			all = append(all, wc{k, c})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].count != all[j].count {
			return all[i].count > all[j].count
		}
		return all[i].word < all[j].word
	})
	var top []string
	for _, e := range all[:min(5, len(all))] {
		top = append(top, fmt.Sprintf("%s=%d", e.word, e.count))
	}
	fmt.Fprintf(w, "   $$wordCounts   select    %-38s -> %d words; top: %s\n", abi.P().All(), len(all), strings.Join(top, " "))

	five := abi.P().Key(abi.Int(5))
	lp := lengthPartition(5)
	size, err := db.SelectOne(byLength, lp, five.View(abi.ViewSize))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   $$wordsByLength selectOne %-37s = %v (O(1): a counter, not a scan)\n", five.View(abi.ViewSize), size)
	rng := five.SortedRange(abi.String("a"), abi.String("m"), abi.RangeOpts{})
	words, err := db.Select(byLength, lp, rng)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   $$wordsByLength select    %-37s = %v\n", rng, abi.List(words...))
	return nil
}

// demoProcess turns the records of one depot partition past its progress
// into PState changes and commits them with the new progress in one batch.
func demoProcess(ctx context.Context, db *storage.DB, d *storage.Depot, counts, byLength *storage.PState, p uint32) (updates int, from, next uint64, err error) {
	if raw, ok, err := db.Progress(demoModule, demoTopology, p); err != nil {
		return 0, 0, 0, err
	} else if ok && len(raw) == 8 {
		from = binary.BigEndian.Uint64(raw)
	}
	entries, err := d.Read(p, from, 1000)
	if err != nil {
		return 0, 0, 0, err
	}
	if len(entries) == 0 {
		return 0, from, from, nil
	}
	b := db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		v, err := abi.Decode(e.Value)
		if err != nil {
			return 0, 0, 0, err
		}
		s, _ := v.AsString()
		for _, word := range strings.Fields(s) {
			if _, err := b.Transform(counts, wordPartition(word), abi.P().Key(abi.String(word)).Incr(1)); err != nil {
				return 0, 0, 0, err
			}
			n := int64(len(word))
			if _, err := b.Transform(byLength, lengthPartition(n), abi.P().Key(abi.Int(n)).Append(abi.String(word))); err != nil {
				return 0, 0, 0, err
			}
			updates++
		}
	}
	next = entries[len(entries)-1].Offset + 1
	if err := b.SetProgress(demoModule, demoTopology, p, binary.BigEndian.AppendUint64(nil, next)); err != nil {
		return 0, 0, 0, err
	}
	if _, err := b.Commit(ctx); err != nil {
		return 0, 0, 0, err
	}
	return updates, from, next, nil
}

func wordPartition(word string) uint32 { return partitionOf(abi.String(word)) }

func lengthPartition(n int64) uint32 { return partitionOf(abi.Int(n)) }

// partitionOf places a PState key the way the engine does: the hash of its
// canonical encoding modulo the task count.
func partitionOf(k abi.Value) uint32 {
	enc, err := abi.Encode(k)
	if err != nil {
		return 0 // strings here are literal UTF-8 and ints always encode
	}
	return abi.KeyPartition(enc, demoPartitions)
}
