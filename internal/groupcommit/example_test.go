package groupcommit_test

import (
	"fmt"
	"sync"

	"github.com/govkit/govkit/internal/groupcommit"
)

// A counter store whose writes are batched: each change adds to the total
// unless it is negative.
func Example() {
	var (
		mu    sync.Mutex
		total int
	)
	g := groupcommit.New(&mu, func(changes []int) []error {
		errs := make([]error, len(changes))
		for i, n := range changes {
			if n < 0 {
				errs[i] = fmt.Errorf("negative change %d", n)
				continue
			}
			total += n
		}
		return errs
	})
	var wg sync.WaitGroup
	for _, n := range []int{1, 2, -3, 4} {
		wg.Go(func() { _ = g.Do(n) })
	}
	wg.Wait()
	fmt.Println(g.Do(-1))
	mu.Lock()
	fmt.Println(total)
	mu.Unlock()
	// Output:
	// negative change -1
	// 7
}
