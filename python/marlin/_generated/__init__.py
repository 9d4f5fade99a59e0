"""Generated, checked-in modules of the marlin package (tools/marlin_gen/checked_in.py writes
them: `bazel run //:update_generated`; //tests/generator:gen_checked_in_test compares them)."""
