"""`python -m bench.middleware_cost` builds a working stack for every middleware it reports:
the whole stack last, and each middleware in exactly one reported step."""

from django.conf import settings

from bench.middleware_cost import handlers_by_prefix


def test_every_middleware_is_in_one_step_and_the_last_stack_is_the_whole():
    stack = list(settings.MIDDLEWARE)
    counts, handlers = handlers_by_prefix(stack)
    assert len(counts) == len(handlers)
    assert counts[0] == 0 and counts[-1] == len(stack)
    steps = [stack[before:after] for before, after in zip(counts, counts[1:], strict=False)]
    assert [name for step in steps for name in step] == stack
    assert len(steps) >= len(stack) - 2  # only a guarded pair or two are reported together
