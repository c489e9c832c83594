package vpcflow

import "strings"

// op says how a column's value is mapped. Most columns are text copied to one key (opString); the
// others are parsed, checked, or feed more than one ECS field.
type op uint8

const (
	opSkip     op = iota // a repeated column of a header: its value stays in event.original only
	opString             // text to key
	opInt                // non-negative integer to key
	opAccount            // aws.vpcflow.account_id and cloud.account.id
	opRegion             // cloud.region
	opInstance           // aws.vpcflow.instance_id and cloud.instance.id
	opSrcAddr            // source.address/ip, network.type, related.ip
	opDstAddr            // destination.address/ip, related.ip
	opPktAddr            // aws.vpcflow.pkt_*addr, related.ip
	opSrcPort            // source.port
	opDstPort            // destination.port
	opProtocol           // network.iana_number, network.transport
	opPackets            // source.packets, network.packets
	opBytes              // source.bytes, network.bytes
	opStart              // event.start
	opEnd                // event.end and @timestamp
	opAction             // aws.vpcflow.action, event.action, event.outcome, event.type
	opTCPFlags           // aws.vpcflow.tcp_flags and tcp_flags_array
)

// column is one field of a flow log format.
type column struct {
	name string // native name, as in a header line ("srcaddr")
	key  string // the ECS or aws.vpcflow.* key that holds its value
	op   op
}

// known lists every field AWS documents for VPC flow logs (versions 2 to 5, the version 6 fields of
// transit gateway flow logs, the version 7 ECS fields, reject-reason of version 8 and the later
// resource-id and encryption-status), with the key each one maps to. The keys follow Elastic's AWS
// integration; fields Elastic does not know go to aws.vpcflow.<name with '_' for '-'>.
var known = []column{
	// version 2: the default format, in its order
	{"version", "aws.vpcflow.version", opString},
	{"account-id", "aws.vpcflow.account_id", opAccount},
	{"interface-id", "aws.vpcflow.interface_id", opString},
	{"srcaddr", "source.ip", opSrcAddr},
	{"dstaddr", "destination.ip", opDstAddr},
	{"srcport", "source.port", opSrcPort},
	{"dstport", "destination.port", opDstPort},
	{"protocol", "network.iana_number", opProtocol},
	{"packets", "source.packets", opPackets},
	{"bytes", "source.bytes", opBytes},
	{"start", "event.start", opStart},
	{"end", "event.end", opEnd},
	{"action", "aws.vpcflow.action", opAction},
	{"log-status", "aws.vpcflow.log_status", opString},
	// version 3
	{"vpc-id", "aws.vpcflow.vpc_id", opString},
	{"subnet-id", "aws.vpcflow.subnet_id", opString},
	{"instance-id", "aws.vpcflow.instance_id", opInstance},
	{"tcp-flags", "aws.vpcflow.tcp_flags", opTCPFlags},
	{"type", "aws.vpcflow.type", opString},
	{"pkt-srcaddr", "aws.vpcflow.pkt_srcaddr", opPktAddr},
	{"pkt-dstaddr", "aws.vpcflow.pkt_dstaddr", opPktAddr},
	// version 4
	{"region", "cloud.region", opRegion},
	{"az-id", "cloud.availability_zone", opString},
	{"sublocation-type", "aws.vpcflow.sublocation.type", opString},
	{"sublocation-id", "aws.vpcflow.sublocation.id", opString},
	// version 5
	{"pkt-src-aws-service", "aws.vpcflow.pkt_src_service", opString},
	{"pkt-dst-aws-service", "aws.vpcflow.pkt_dst_service", opString},
	{"flow-direction", "network.direction", opString},
	{"traffic-path", "aws.vpcflow.traffic_path", opString},
	// version 6: transit gateway flow logs
	{"resource-type", "aws.vpcflow.resource_type", opString},
	{"tgw-id", "aws.vpcflow.tgw_id", opString},
	{"tgw-attachment-id", "aws.vpcflow.tgw_attachment_id", opString},
	{"tgw-src-vpc-account-id", "aws.vpcflow.tgw_src_vpc_account_id", opString},
	{"tgw-dst-vpc-account-id", "aws.vpcflow.tgw_dst_vpc_account_id", opString},
	{"tgw-src-vpc-id", "aws.vpcflow.tgw_src_vpc_id", opString},
	{"tgw-dst-vpc-id", "aws.vpcflow.tgw_dst_vpc_id", opString},
	{"tgw-src-subnet-id", "aws.vpcflow.tgw_src_subnet_id", opString},
	{"tgw-dst-subnet-id", "aws.vpcflow.tgw_dst_subnet_id", opString},
	{"tgw-src-eni", "aws.vpcflow.tgw_src_eni", opString},
	{"tgw-dst-eni", "aws.vpcflow.tgw_dst_eni", opString},
	{"tgw-src-az-id", "aws.vpcflow.tgw_src_az_id", opString},
	{"tgw-dst-az-id", "aws.vpcflow.tgw_dst_az_id", opString},
	{"tgw-pair-attachment-id", "aws.vpcflow.tgw_pair_attachment_id", opString},
	{"packets-lost-no-route", "aws.vpcflow.packets_lost_no_route", opInt},
	{"packets-lost-blackhole", "aws.vpcflow.packets_lost_blackhole", opInt},
	{"packets-lost-mtu-exceeded", "aws.vpcflow.packets_lost_mtu_exceeded", opInt},
	{"packets-lost-ttl-expired", "aws.vpcflow.packets_lost_ttl_expired", opInt},
	// version 7: Amazon ECS
	{"ecs-cluster-arn", "orchestrator.cluster.id", opString},
	{"ecs-cluster-name", "orchestrator.cluster.name", opString},
	{"ecs-container-instance-arn", "orchestrator.resource.name", opString},
	{"ecs-container-instance-id", "orchestrator.resource.id", opString},
	{"ecs-container-id", "aws.vpcflow.ecs_container_id", opString},
	{"ecs-second-container-id", "aws.vpcflow.ecs_second_container_id", opString},
	{"ecs-service-name", "service.name", opString},
	{"ecs-task-definition-arn", "aws.vpcflow.ecs_task_definition_arn", opString},
	{"ecs-task-arn", "aws.vpcflow.ecs_task_arn", opString},
	{"ecs-task-id", "aws.vpcflow.ecs_task_id", opString},
	// version 8 and later
	{"reject-reason", "event.reason", opString},
	{"resource-id", "aws.vpcflow.resource_id", opString},
	{"encryption-status", "aws.vpcflow.encryption_status", opString},
}

var byName = func() map[string]column {
	m := make(map[string]column, len(known))
	for _, c := range known {
		m[c.name] = c
	}
	return m
}()

// columnsOf returns the known columns of the given names, in that order.
func columnsOf(names ...string) []column {
	cols := make([]column, len(names))
	for i, n := range names {
		c, ok := byName[n]
		if !ok {
			panic("vpcflow: unknown field " + n)
		}
		cols[i] = c
	}
	return cols
}

var (
	v2Names = strings.Fields("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status")
	v5Names = append(append([]string(nil), v2Names...), strings.Fields(
		"vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path")...)
	v7Names  = append(append([]string(nil), v5Names...), strings.Fields("ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn ecs-container-instance-id ecs-container-id ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn ecs-task-id")...)
	v8Names  = append(append([]string(nil), v7Names...), "reject-reason")
	tgwNames = strings.Fields("version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status type packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags region flow-direction pkt-src-aws-service pkt-dst-aws-service")
)

// layout is a format known without a header line.
type layout struct {
	name   string
	cols   []column
	status int // index of log-status, checked by the sniffer
	size   int // sizeOf(cols)
}

// headerless are the formats recognised by their number of fields when an object has no header line
// (records that went through CloudWatch Logs never have one). The default format is the only one AWS
// fixes; the others are "all fields, in the order of the documentation's table", which is what the
// console and most templates produce and what Elastic's integration also recognises by field count.
// They are indexed by their number of fields (a table, not a map: it is looked up for every record).
var headerless = func() (t [64]*layout) {
	for _, l := range []layout{
		{name: "the default format (version 2)", cols: columnsOf(v2Names...)},
		{name: "all fields of versions 2 to 5", cols: columnsOf(v5Names...)},
		{name: "all fields of versions 2 to 7", cols: columnsOf(v7Names...)},
		{name: "all fields of versions 2 to 8", cols: columnsOf(v8Names...)},
		{name: "the transit gateway default format (version 6)", cols: columnsOf(tgwNames...)},
	} {
		l.size = sizeOf(l.cols)
		for i, c := range l.cols {
			if c.name == "log-status" {
				l.status = i
			}
		}
		t[len(l.cols)] = &l
	}
	return t
}()

// headerlessLayout returns the layout of records of n fields without a header, or nil.
func headerlessLayout(n int) *layout {
	if n < 0 || n >= len(headerless) {
		return nil
	}
	return headerless[n]
}

// protocols names the IANA protocol numbers, as Elastic's pipeline does (network.transport).
var protocols = func() (t [256]string) {
	t[0] = "hopopt"
	t[1] = "icmp"
	t[2] = "igmp"
	t[6] = "tcp"
	t[8] = "egp"
	t[17] = "udp"
	t[47] = "gre"
	t[50] = "esp"
	t[58] = "ipv6-icmp"
	t[112] = "vrrp"
	t[132] = "sctp"
	return
}()

// tcpFlags holds the tcp_flags_array of every combination of the six flags Elastic names, so that
// building it allocates nothing.
var tcpFlags = func() (t [64][]string) {
	names := []string{"fin", "syn", "rst", "psh", "ack", "urg"}
	for v := range t {
		for b, n := range names {
			if v&(1<<b) != 0 {
				t[v] = append(t[v], n)
			}
		}
	}
	return
}()

var (
	categoryNetwork = []string{"network"}
	typeConnection  = []string{"connection"}
	typeAllowed     = []string{"connection", "allowed"}
	typeDenied      = []string{"connection", "denied"}
)

// aliases maps every native field name (and its Parquet/Athena spelling with '_') to the key that
// holds it.
var aliases = func() map[string]string {
	m := make(map[string]string, 2*len(known))
	for _, c := range known {
		m[c.name] = c.key
		m[strings.ReplaceAll(c.name, "-", "_")] = c.key
	}
	return m
}()
