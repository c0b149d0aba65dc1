package engine

const crashChildEnv = "SQUALL_ENGINE_CRASH_CHILD"

func crashChild() int { return 0 }
