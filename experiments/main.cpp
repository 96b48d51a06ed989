// The `lstmad` command line.
#include "experiments/cli.hpp"

int main(int argc, char** argv) { return lstmad::cli::main(argc, argv); }
