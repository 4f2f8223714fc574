"""``python -m forgetlab``; guarded because vLLM's CPU workers start by spawn, which imports
the main module again."""

from forgetlab.cli import main

if __name__ == "__main__":
    main()
