// Writes a real Go heap profile with many distinct stacks, for the parse benchmark:
// go run bigheap.go OUT N  (N allocation sites reached by N distinct call paths).
// Standard library only.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
)

var sink [][]byte

//go:noinline
func leaf(i int) { sink = append(sink, make([]byte, 16+(i%64)*8)) }

//go:noinline
func f0(i, d int) { step(i, d) }

//go:noinline
func f1(i, d int) { step(i, d) }

//go:noinline
func f2(i, d int) { step(i, d) }

//go:noinline
func f3(i, d int) { step(i, d) }

// step walks one level down a 4-ary tree chosen by two bits of i, so every i has its own
// stack of depth `depth`.
//go:noinline
func step(i, d int) {
	if d == 0 {
		leaf(i)
		return
	}
	switch (i >> (2 * (d - 1))) & 3 {
	case 0:
		f0(i, d-1)
	case 1:
		f1(i, d-1)
	case 2:
		f2(i, d-1)
	default:
		f3(i, d-1)
	}
}

func main() {
	runtime.MemProfileRate = 1
	n, _ := strconv.Atoi(os.Args[2])
	depth := 1
	for 1<<(2*depth) < n {
		depth++
	}
	for i := 0; i < n; i++ {
		step(i, depth)
	}
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		panic(err)
	}
	f.Close()
}
