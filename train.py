"""Train a labelwise model. `python train.py --help` lists every option; with no arguments it
trains LAME on the bundled demo corpus with the packaged all-MiniLM-L6-v2 backbone."""

from labelwise.training.cli import main

if __name__ == "__main__":
    main()
