package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/weirhq/weir/internal/connect/nexmark"
)

func benchCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks built into the binary",
	}
	nx := &cobra.Command{
		Use:   "nexmark",
		Short: "The Nexmark streaming benchmark: an online auction's people, auctions and bids",
	}
	var events int64
	var seed uint64
	var rate float64
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Write Nexmark events as NDJSON to stdout",
		Long: `Write Nexmark events as NDJSON, one object per line holding a "person",
"auction" or "bid" object with the standard field names (times as epoch
milliseconds). In every 50 events 1 is a person, 3 are auctions and 46 are
bids. The events depend only on the seed: the same command writes the same
bytes.`,
		Example: `  weir bench nexmark generate --events 1000000 --seed 1 > events.ndjson
  weir bench nexmark generate --events 10 | head -3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if events < 0 {
				return fmt.Errorf("--events must be 0 or more, got %d", events)
			}
			w := bufio.NewWriterSize(os.Stdout, 1<<20)
			g := nexmark.New(nexmark.Config{Seed: seed, Rate: rate})
			var e nexmark.Event
			var line []byte
			for n := int64(0); n < events; n++ {
				g.Event(n, &e)
				line = append(nexmark.AppendJSON(line[:0], &e), '\n')
				if _, err := w.Write(line); err != nil {
					return nil // stdout closed (e.g. | head): not an error
				}
			}
			if err := w.Flush(); err != nil {
				return nil
			}
			return nil
		},
	}
	gen.Flags().Int64Var(&events, "events", 1000, "number of events")
	gen.Flags().Uint64Var(&seed, "seed", 1, "seed of the stream")
	gen.Flags().Float64Var(&rate, "rate", 10_000, "events per second of event time (sets the time between events, not the speed of writing)")
	nx.AddCommand(gen)
	c.AddCommand(nx)
	return c
}
