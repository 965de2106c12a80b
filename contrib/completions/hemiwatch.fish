# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_hemiwatch_global_optspecs
    string join \n log-format= h/help V/version
end

function __fish_hemiwatch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_hemiwatch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_hemiwatch_using_subcommand
    set -l cmd (__fish_hemiwatch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -s V -l version -d 'Print version'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "run" -d 'Run the daemon on a configuration file'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "demo" -d 'Run the daemon on a simulated 577-seat hemicycle, with its dashboard'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "check-config" -d 'Check a configuration file as `run` would read it (key files, api_token_env included)'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "replay" -d 'Replay recorded samples through the detectors, with the clock taken from the data'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "decode" -d 'Decode raw wire bytes (a capture) into one JSON object per frame on stdout'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "sim" -d 'Simulate seats speaking the real protocol into a file or onto a pty'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "status" -d 'Print a running daemon\'s summary: seats per state, lines up and down, firing alerts'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "ack" -d 'Acknowledge an alert on a running daemon'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "docs" -d 'Write the man pages and shell completions generated from this command line'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "keys" -d 'Generate seat keys, and write a seat\'s provisioning block for its board'
complete -c hemiwatch -n "__fish_hemiwatch_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand run" -l config -d 'Configuration file; without it, the embedded default (a 577-seat hemicycle whose lines are /dev/serial/by-id/hemiwatch-concentrator-{a..h}, with PUBLIC demo keys)' -r -F
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand run" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand run" -l allow-demo-keys -d 'Run even with demo, duplicated or all-zero seat keys (anyone could forge those seats\' frames): for demonstrations and test rigs only'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand demo" -l data-dir -d 'Where the database and the ptys\' links go (default: a new folder in the system\'s temporary directory)' -r -F
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand demo" -l http-bind -d 'Where the dashboard and API listen (default: the embedded config\'s `http_bind`, loopback only)' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand demo" -l token -d 'API token for writes (acknowledge, silence); default: a new random one, printed' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand demo" -l seed -d 'Random seed of the simulated seats' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand demo" -l seconds -d 'Stop after this many seconds (default: run until Ctrl-C)' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand demo" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand check-config" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand check-config" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand replay" -l csv -d 'The recorded samples' -r -F
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand replay" -l config -d 'Configuration whose seats\' thresholds apply' -r -F
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand replay" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand replay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand decode" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand decode" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l seats -d 'Number of seats' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l first-id -d 'Id of the first seat (ids FIRST_ID..FIRST_ID+SEATS), so several simulated lines can share one daemon' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l seconds -d 'How long to simulate: virtual seconds for a file, wall-clock seconds for a pty' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l out -d 'Output: a file path, or `pty:PATH`' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l seed -d 'Random seed: the same seed gives the same capture' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l scenario -d 'What the seats do (incidents go to the first seats of the range)' -r -f -a "steady\t'Every seat healthy'
runaway\t'Seat 1 heats up toward overheating; the rest are healthy'
silent\t'Seat 1 goes silent for 10 s, then reboots'
noisy\t'Seat 1 has a noisy, glitchy sensor'
mixed\t'All three incidents on seats 1, 2 and 3'
sensor-fault\t'Every seat\'s sensor dies 3 s in (the seat then reports `SENSOR_FAULT`)'
day\t'An ordinary session: every console warms by 4–8 °C over ~10 minutes, one in 50 has a noisy, glitchy sensor; nothing is wrong'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l period-ms -d 'Telemetry period in milliseconds' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l garbage-per-s -d 'On a pty: bursts of random garbage injected between frames, per second (a babbling device on the RS-485 segment; each burst ends with a frame delimiter)' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l loss-percent -d 'Percentage of telemetry frames lost on the way (0–100; the host sees counter gaps)' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand sim" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand status" -l url -d 'Base URL of the daemon\'s HTTP API' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand status" -l token -d 'Bearer token for writes' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand status" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand status" -l json -d 'Print `/api/status` as the daemon answers it (JSON), instead of the summary'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand ack" -l by -d 'Who acknowledges' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand ack" -l comment -d 'Why' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand ack" -l url -d 'Base URL of the daemon\'s HTTP API' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand ack" -l token -d 'Bearer token for writes' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand ack" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand ack" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand docs" -l out -d 'Folder to write into: `man/` (one page per command, section 1) and `completions/` (bash, zsh, fish) are created in it' -r -F
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand docs" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand docs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and not __fish_seen_subcommand_from generate provision help" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and not __fish_seen_subcommand_from generate provision help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and not __fish_seen_subcommand_from generate provision help" -f -a "generate" -d 'Draw a fresh random key for each seat into a key folder (one 0600 file per seat)'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and not __fish_seen_subcommand_from generate provision help" -f -a "provision" -d 'Write a seat\'s 32-byte provisioning block (seat id, key, CRC-32) for the flasher'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and not __fish_seen_subcommand_from generate provision help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from generate" -l dir -d 'The key folder (created 0700 if missing)' -r -F
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from generate" -l seats -d 'Seats, e.g. `1-577` or `1-72,80`' -r
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from generate" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from provision" -l out -d 'Where to write the block (mode 0600)' -r -F
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from provision" -l config -d 'Configuration file [default: the embedded one, whose keys are demo keys]' -r -F
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from provision" -l log-format -d 'Log format on stderr [default: the config\'s `[daemon] log_format`, else human]' -r -f -a "human\t'Readable lines'
json\t'One JSON object per line, for log shippers'"
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from provision" -l allow-demo-keys -d 'Accept a demo, duplicated or all-zero key (a lab board, never a real seat)'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from provision" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Draw a fresh random key for each seat into a key folder (one 0600 file per seat)'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "provision" -d 'Write a seat\'s 32-byte provisioning block (seat id, key, CRC-32) for the flasher'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "run" -d 'Run the daemon on a configuration file'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "demo" -d 'Run the daemon on a simulated 577-seat hemicycle, with its dashboard'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "check-config" -d 'Check a configuration file as `run` would read it (key files, api_token_env included)'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "replay" -d 'Replay recorded samples through the detectors, with the clock taken from the data'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "decode" -d 'Decode raw wire bytes (a capture) into one JSON object per frame on stdout'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "sim" -d 'Simulate seats speaking the real protocol into a file or onto a pty'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "status" -d 'Print a running daemon\'s summary: seats per state, lines up and down, firing alerts'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "ack" -d 'Acknowledge an alert on a running daemon'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "docs" -d 'Write the man pages and shell completions generated from this command line'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "keys" -d 'Generate seat keys, and write a seat\'s provisioning block for its board'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and not __fish_seen_subcommand_from run demo check-config replay decode sim status ack docs keys help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "generate" -d 'Draw a fresh random key for each seat into a key folder (one 0600 file per seat)'
complete -c hemiwatch -n "__fish_hemiwatch_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "provision" -d 'Write a seat\'s 32-byte provisioning block (seat id, key, CRC-32) for the flasher'
