from tui_agent.app import main

main()
