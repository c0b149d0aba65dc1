//go:build wasip1

package squall

// newPathNode allocates path steps 32 at a time: stages build a few paths
// per item, and a heap allocation costs a guest as much as encoding the
// path. A node keeps its chunk alive, about 3 KiB, as long as a path
// holds it.
//
// There is no lock: a wasip1 module runs on one thread, and goroutines
// switch only where they block, which nothing does between reading
// pathNodes and advancing it.
func newPathNode() *pathNode {
	if len(pathNodes) == 0 {
		pathNodes = make([]pathNode, 32)
	}
	nd := &pathNodes[0]
	pathNodes = pathNodes[1:]
	return nd
}

var pathNodes []pathNode
