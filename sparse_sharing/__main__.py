from sparse_sharing.cli.main import main

main()
