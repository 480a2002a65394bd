# SPDX-License-Identifier: Apache-2.0
# Bash completion for walctl(1), the walld command line tool: commands,
# each command's options, files and directories where an option takes one,
# and cursor names (asked of walld) for cursor and --cursor. Installed as
# share/bash-completion/completions/walctl; needs nothing but bash.
# Keep in step with walctl.c's table and the long options of each command.

# The options of a command, besides --socket and --help.
_walctl_opts()
{
	case $1 in
	append)		echo "--type --tenant --vshard --file --lines --ack
			    --producer --seq --json --load" ;;
	sync)		echo "--ack --json" ;;
	truncate)	echo "--before --dry-run --force" ;;
	read)		echo "--from --to --since --until --type --tenant --vshard
			    --follow --json --raw --dump -n --limit --last --dir
			    --keyring --nats --stream --creds --cursor
			    --commit-every --commit-ms" ;;
	tail)		echo "-n --lines -f --follow --type --tenant --vshard --json
			    --cursor --commit-every --commit-ms" ;;
	cursors)	echo "--json" ;;
	verify)		echo "--dir --keyring --json" ;;
	restore)	echo "--nats --stream --creds --dir --from-seq" ;;
	keygen)		echo "--id --keyring" ;;
	stats)		echo "--json --prometheus --interval" ;;
	segments)	echo "--dir --json" ;;
	esac
}

# The cursors walld has (nothing when it cannot be asked).
_walctl_cursor_names()
{
	local sock=$1

	walctl ${sock:+--socket "$sock"} cursors 2>/dev/null |
	    awk 'NR > 1 { print $1 }'
}

_walctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmds="append sync seal rotate truncate read tail cursor cursors
	    verify restore keygen stats status segments ping reload help"
	local cmd= sock= i=1 w nargs=0

	# The command is the first word that is neither a global option nor
	# its argument; count the words after it that are not options.
	while [ $i -lt $COMP_CWORD ]; do
		w=${COMP_WORDS[i]}
		if [ -z "$cmd" ]; then
			case $w in
			-s|--socket)	i=$((i + 1)); sock=${COMP_WORDS[i]} ;;
			-t|--timeout)	i=$((i + 1)) ;;
			-*)		;;
			*)		cmd=$w ;;
			esac
		else
			case $w in
			-s|--socket)	i=$((i + 1)); sock=${COMP_WORDS[i]} ;;
			-*)		;;
			*)		nargs=$((nargs + 1)) ;;
			esac
		fi
		i=$((i + 1))
	done

	# An option's argument.
	case $prev in
	-s|--socket|--file|--keyring|--creds)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0 ;;
	--load)
		COMPREPLY=($(compgen -f -- "$cur") $(compgen -W "-" -- "$cur"))
		return 0 ;;
	--dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return 0 ;;
	--ack)
		COMPREPLY=($(compgen -W "local replicated" -- "$cur"))
		return 0 ;;
	--cursor)
		COMPREPLY=($(compgen -W "$(_walctl_cursor_names "$sock")" \
		    -- "$cur"))
		return 0 ;;
	-t|--timeout|--type|--tenant|--vshard|--producer|--seq|--from|--to|\
	--since|--until|-n|--limit|--last|--before|--nats|--stream|\
	--commit-every|--commit-ms|--from-seq|--id|--interval)
		return 0 ;;
	esac

	if [ -z "$cmd" ]; then
		case $cur in
		-*)	COMPREPLY=($(compgen -W "-s --socket -t --timeout -h
			    --help -V --version" -- "$cur")) ;;
		*)	COMPREPLY=($(compgen -W "$cmds" -- "$cur")) ;;
		esac
		return 0
	fi
	case $cur in
	-*)
		COMPREPLY=($(compgen -W "$(_walctl_opts "$cmd") -s --socket
		    -h --help" -- "$cur"))
		return 0 ;;
	esac
	case $cmd in
	help)
		[ $nargs -eq 0 ] && COMPREPLY=($(compgen -W "$cmds" -- "$cur")) ;;
	cursor)
		if [ $nargs -eq 0 ]; then
			COMPREPLY=($(compgen -W "create commit get drop" -- "$cur"))
		elif [ $nargs -eq 1 ]; then
			COMPREPLY=($(compgen -W "$(_walctl_cursor_names "$sock")" \
			    -- "$cur"))
		fi ;;
	append)
		COMPREPLY=() ;;		# DATA: anything
	esac
	return 0
}

complete -F _walctl walctl
