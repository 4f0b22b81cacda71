"""DSP: pure numpy/scipy processors (Params, State, step). No I/O, no asyncio."""
