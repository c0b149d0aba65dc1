//go:build !wasip1

package squall

// newPathNode allocates a path step (natively, where stages may run on
// several goroutines at once, one at a time; see path_alloc_wasip1.go).
func newPathNode() *pathNode { return new(pathNode) }
