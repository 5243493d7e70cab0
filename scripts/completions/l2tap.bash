# bash completion for l2tap(8): options, their values, and l2tap show.
# Installed as $(PREFIX)/share/bash-completion/completions/l2tap.
# Generated from the flag table (internal/config/flagtable.go) by make man;
# do not edit.

_l2tap_flags='-src -dst -udp -srcport -dstport -ipv6 -txsession -rxsession -txcookie -rxcookie -cookie64 -txcookie64 -rxcookie64 -counter -pincounter -offset -seqcheck -ifname -attach -mtu -mss-clamp -mac -owner -group -master -socket -socket-type -vhost-user -vhost-user-mode -offload -tap-driver -queues -sched -ip-path -cpuprofile -memprofile -user -seccomp -pcap -pcap-outer -pcap-size -rxtunnel -txtunnel -hello -hello-retries -hello-required -circuit -hostname -peer-hostname -secret-file -digest -router-id -role -config -log-format -control -metrics -version -help'
# switches: they take their value only as -name=on/off
_l2tap_switches='-udp -ipv6 -cookie64 -txcookie64 -rxcookie64 -counter -pincounter -seqcheck -attach -seccomp -pcap-outer -hello-required -version'
_l2tap_show_flags='-json -socket -help'

# _l2tap_values prints the words a value of option $1 may be.
_l2tap_values() {
	case $1 in
	mss-clamp) echo 'auto off' ;;
	mac) echo 'persistent random' ;;
	socket-type) echo 'stream dgram' ;;
	vhost-user-mode) echo 'server client' ;;
	offload) echo 'auto full off' ;;
	tap-driver) echo 'kernel water' ;;
	sched) echo 'batch normal' ;;
	ip-path) echo 'raw packet' ;;
	digest) echo 'md5 sha1' ;;
	role) echo 'initiator responder both' ;;
	log-format) echo 'text json' ;;
	ifname)
		local d
		for d in /sys/class/net/*; do
			[ -e "$d" ] && echo "${d##*/}"
		done
		;;
	master)
		local d
		for d in /sys/class/net/*/bridge; do
			[ -d "$d" ] || continue
			d=${d%/bridge}
			echo "${d##*/}"
		done
		;;
	esac
}

_l2tap() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev='' i show=0
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == show ]] && show=1
	done
	COMPREPLY=()

	# -name=value: one word, or three when COMP_WORDBREAKS splits at '='.
	local name='' val=''
	if [[ $cur == -*=* ]]; then
		name=${cur%%=*} val=${cur#*=}
	elif [[ $cur == = ]]; then
		name=$prev
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		name=${COMP_WORDS[COMP_CWORD - 2]} val=$cur
	fi
	name=${name#-}
	name=${name#-}
	if [[ -n $name ]]; then
		local words
		if [[ " $_l2tap_switches -json " == *" -$name "* ]]; then
			words='on off'
		else
			words=$(_l2tap_values "$name")
		fi
		COMPREPLY=($(compgen -W "$words" -- "$val"))
		# with '=' in the word itself, bash replaces the whole word
		[[ $cur == -*=* ]] && COMPREPLY=("${COMPREPLY[@]/#/-$name=}")
		return 0
	fi

	local p=${prev#-}
	p=${p#-}
	if ((show)); then
		case $p in
		socket) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "$_l2tap_show_flags" -- "$cur")) ;;
		esac
		return 0
	fi
	case $p in
	socket | vhost-user | cpuprofile | memprofile | pcap | secret-file | config | control)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
		;;
	ifname | mss-clamp | mac | master | socket-type | vhost-user-mode | offload | tap-driver | sched | ip-path | digest | role | log-format)
		COMPREPLY=($(compgen -W "$(_l2tap_values "$p")" -- "$cur"))
		return 0
		;;
	owner | user)
		COMPREPLY=($(compgen -u -- "$cur"))
		return 0
		;;
	group)
		COMPREPLY=($(compgen -g -- "$cur"))
		return 0
		;;
	src | dst | srcport | dstport | txsession | rxsession | txcookie | rxcookie | offset | mtu | queues | pcap-size | rxtunnel | txtunnel | hello | hello-retries | circuit | hostname | peer-hostname | router-id | metrics)
		return 0
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$_l2tap_flags" -- "$cur"))
	elif ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W "show" -- "$cur"))
	fi
	return 0
}

complete -F _l2tap l2tap
