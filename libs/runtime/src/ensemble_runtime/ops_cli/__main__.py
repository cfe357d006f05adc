from ensemble_runtime.ops_cli import main

main()
