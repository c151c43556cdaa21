"""No cyclic garbage collection while a parser makes tens of thousands of acyclic objects (an nginx
dump, an IPVS table): each collection would walk them all (~15% of the time)."""

import gc


class gc_paused:  # a `with` statement, lower case as contextlib's
    """Collections off inside the block (as they were before, after it)."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()
