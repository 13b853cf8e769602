#include <stdio.h>
#include <string.h>

#include "node/simtext.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

void
node_simrng_seed(node_simrng *r, uint64_t seed, uint64_t stream)
{
	r->s = seed * 0x9E3779B97F4A7C15ULL ^ (stream + 0x632BE59BD9B4E019ULL);
	(void)node_simrng_next(r);
}

uint64_t
node_simrng_next(node_simrng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

uint64_t
node_simrng_below(node_simrng *r, uint64_t n)
{
	return n ? node_simrng_next(r) % n : 0;
}

bool
node_simrng_chance(node_simrng *r, unsigned per_mille)
{
	return node_simrng_below(r, 1000) < per_mille;
}

static const char *
pick(node_simrng *r, const char *const *v, size_t n)
{
	return v[node_simrng_below(r, n)];
}

static const char *const place1[] = { "东", "西", "南", "北", "青", "石",
	"白", "金", "龙", "凤", "桃", "柳", "松", "梅", "兰", "竹", "清", "云",
	"新", "安", "永", "福", "长", "平", "太", "和", "兴", "华", "双", "马",
	"鹤", "鹿", "杏", "枫", "柏", "槐", "沙", "玉", "丰", "高" };
static const char *const place2[] = { "溪", "坝", "湾", "坪", "岭", "桥",
	"塘", "山", "田", "沟", "口", "场", "园", "林", "河", "堰", "垭", "台",
	"峰", "坡", "冲", "岗", "湖", "庄" };

void
node_simtext_place(node_simrng *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s", pick(r, place1, N(place1)),
	    pick(r, place2, N(place2)));
}

static const char *const surnames[] = { "王", "李", "张", "刘", "陈", "杨",
	"黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高",
	"林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
	"彭", "曾", "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶",
	"程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟",
	"谭", "陆", "汪", "范", "石", "廖", "贾", "夏", "付", "方", "邹", "熊",
	"秦", "邱", "江", "尹", "段", "雷", "侯", "龙", "陶", "贺", "毛", "向" };
static const char *const given[] = { "伟", "芳", "娜", "敏", "静", "丽",
	"强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀",
	"霞", "平", "刚", "英", "华", "文", "玉", "兰", "辉", "建", "国", "红",
	"梅", "林", "海", "峰", "云", "波", "鹏", "斌", "宇", "浩", "凯", "健",
	"俊", "帆", "旭", "宁", "琳", "婷", "雪", "慧", "莉", "晶", "燕", "萍",
	"春", "志", "成", "德", "福", "贵", "荣", "珍", "凤", "翠" };

void
node_simtext_person(node_simrng *r, char *buf, size_t cap)
{
	if (node_simrng_chance(r, 300))
		snprintf(buf, cap, "%s%s", pick(r, surnames, N(surnames)),
		    pick(r, given, N(given)));
	else
		snprintf(buf, cap, "%s%s%s", pick(r, surnames, N(surnames)),
		    pick(r, given, N(given)), pick(r, given, N(given)));
}

void
node_simtext_phone(node_simrng *r, char *buf, size_t cap)
{
	static const char *const pre[] = { "133", "135", "136", "138", "139",
		"150", "151", "152", "155", "158", "159", "177", "180", "186",
		"187", "189", "199" };

	snprintf(buf, cap, "%s%08llu", pick(r, pre, N(pre)),
	    (unsigned long long)node_simrng_below(r, 100000000));
}

void
node_simtext_id_no(node_simrng *r, const char *district, char *buf,
    size_t cap)
{
	/* GB 11643: weights and check characters of the 18th place. */
	static const int w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5,
		8, 4, 2 };
	static const char check[] = "10X98765432";
	char s[19];
	int sum = 0;

	snprintf(s, sizeof(s), "%.6s%04d%02d%02d%03d", district,
	    1940 + (int)node_simrng_below(r, 66),
	    1 + (int)node_simrng_below(r, 12),
	    1 + (int)node_simrng_below(r, 28),
	    (int)node_simrng_below(r, 1000));
	for (int i = 0; i < 17; i++)
		sum += (s[i] - '0') * w[i];
	s[17] = check[sum % 11];
	s[18] = '\0';
	snprintf(buf, cap, "%s", s);
}

void
node_simtext_credit(node_simrng *r, char *buf, size_t cap)
{
	static const char alnum[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	char s[19];

	memcpy(s, "915001", 6);
	for (int i = 6; i < 18; i++)
		s[i] = alnum[node_simrng_below(r, sizeof(alnum) - 1)];
	s[18] = '\0';
	snprintf(buf, cap, "%s", s);
}

/* Case templates: "%A" and "%B" name the parties. */
static const struct {
	const char *category, *matter;
	const char *titles[4];
} kinds[] = {
	{ "邻里纠纷", "family",
	    { "%A与%B因楼上漏水引发纠纷", "%A反映邻居%B装修噪音扰民",
		"%A与%B因宅基地界址发生争执", "%A与%B因排水沟堵塞产生矛盾" } },
	{ "婚姻家庭纠纷", "family",
	    { "%A与%B因赡养老人问题产生矛盾", "%A与%B离婚财产分割纠纷",
		"%A反映子女%B不履行赡养义务", "%A与%B因子女抚养费发生争执" } },
	{ "物业纠纷", "shared",
	    { "%A等业主与物业公司因停车收费产生纠纷", "%A反映小区电梯长期故障无人维修",
		"%A与物业公司因公共维修资金使用发生争议", "%A反映小区绿化带被占用" } },
	{ "劳资纠纷", "public",
	    { "%A等工人被拖欠工资", "%A与用工单位因工伤赔偿发生争议",
		"%A反映建筑工地拖欠农民工工资", "%A与%B因劳务费结算产生纠纷" } },
	{ "土地承包纠纷", "shared",
	    { "%A与%B因土地承包经营权流转产生争议", "%A与%B因林地界线发生纠纷",
		"%A对土地流转租金分配有异议", "%A与%B因灌溉用水产生矛盾" } },
	{ "消费纠纷", "public",
	    { "%A反映所购商品质量问题与商家协商未果", "%A反映预付卡商家停业无法退款",
		"%A与装修公司因工程质量产生纠纷", "%A反映网购家电售后无人处理" } },
	{ "交通事故纠纷", "public",
	    { "%A与%B因交通事故赔偿发生争议", "%A与%B因电动车碰撞产生纠纷",
		"%A与%B因停车剐蹭协商赔偿未果", "%A反映农用车事故责任认定争议" } },
	{ "征地拆迁纠纷", "public",
	    { "%A对征地补偿标准有异议", "%A反映安置房分配不公",
		"%A与%B因拆迁补偿款分配发生家庭矛盾", "%A反映青苗补偿未到位" } },
	{ "环境污染纠纷", "public",
	    { "%A反映附近养殖场异味扰民", "%A反映夜间施工噪音影响休息",
		"%A反映小作坊排放污水", "%A反映餐馆油烟扰民" } },
	{ "医疗纠纷", "public",
	    { "%A与诊所因治疗效果产生纠纷", "%A对卫生院收费有异议",
		"%A与%B因代为就医垫付费用产生纠纷", "%A反映药店售卖过期药品" } },
};

static void
fill(char *out, size_t cap, const char *tpl, const char *a, const char *b)
{
	size_t o = 0;

	for (const char *p = tpl; *p && o + 1 < cap; p++) {
		const char *sub = NULL;

		if (p[0] == '%' && (p[1] == 'A' || p[1] == 'B'))
			sub = *++p == 'A' ? a : b;
		if (sub != NULL) {
			size_t n = strlen(sub);

			if (o + n >= cap)
				break;
			memcpy(out + o, sub, n);
			o += n;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

void
node_simtext_case(node_simrng *r, const char *a, const char *b,
    node_simcase *out)
{
	static const char *const sources[] = { "来访", "网格员排查", "12345热线",
		"电话反映", "微信群反映", "矛盾纠纷排查" };
	static const char *const asks[] = { "要求协调解决", "请求调解",
		"希望尽快处理", "要求对方赔偿损失", "请求依法处理" };
	size_t k = node_simrng_below(r, N(kinds));

	snprintf(out->category, sizeof(out->category), "%s",
	    kinds[k].category);
	fill(out->title, sizeof(out->title),
	    kinds[k].titles[node_simrng_below(r, 4)], a, b);
	out->matter = kinds[k].matter;
	out->source = pick(r, sources, N(sources));
	snprintf(out->description, sizeof(out->description), "%s：%s，%s。",
	    out->source, out->title, pick(r, asks, N(asks)));
}

const char *
node_simtext_category(node_simrng *r)
{
	return kinds[node_simrng_below(r, N(kinds))].category;
}

void
node_simtext_result(node_simrng *r, char *buf, size_t cap)
{
	static const char *const t[] = { "经调解双方达成一致，签订人民调解协议书",
		"当事人当场和解，矛盾化解", "协调赔偿%u元，双方签字确认",
		"督促责任方整改，问题已解决", "依法释明政策，当事人表示理解",
		"联合相关部门现场处置，隐患消除" };
	const char *f = pick(r, t, N(t));

	if (strstr(f, "%u") != NULL)
		snprintf(buf, cap, "协调赔偿%u元，双方签字确认",
		    (unsigned)(500 + 100 * node_simrng_below(r, 200)));
	else
		snprintf(buf, cap, "%s", f);
}

const char *
node_simtext_body(node_simrng *r, bool district)
{
	static const char *const town[] = { "司法所", "派出所",
		"人民调解委员会", "劳动保障所", "综治中心" };
	static const char *const dist[] = { "区人民法院诉调对接中心",
		"区交通事故调解委员会", "区医疗纠纷调解委员会",
		"区劳动人事争议仲裁院", "区公安分局" };

	return district ? pick(r, dist, N(dist)) : pick(r, town, N(town));
}

void
node_simtext_meeting(node_simrng *r, const char *level, const char *place,
    char *topic, size_t tcap, char *decision, size_t dcap)
{
	static const char *const grid[] = { "楼道堆物清理", "邻里噪音协商",
		"化粪池清掏费用分摊", "院坝公共照明维修", "宠物饲养公约" };
	static const char *const comm[] = { "小区停车位规划评议",
		"老旧小区改造方案评议", "公共维修资金使用评议",
		"垃圾分类投放点选址", "电梯加装费用分摊评议" };
	static const char *const town[] = { "征地补偿政策联席会议",
		"劳资纠纷联合调处", "重点信访事项会商", "道路改造施工协调会",
		"防汛安全隐患排查部署" };
	static const char *const dec[] = { "形成一致意见，张榜公示七日",
		"原则同意方案，按程序实施", "责成相关单位限期整改",
		"暂缓实施，进一步征求居民意见", "明确分工，一周内反馈" };
	const char *t = strcmp(level, "town") == 0 ? pick(r, town, N(town))
	    : strcmp(level, "community") == 0    ? pick(r, comm, N(comm))
						 : pick(r, grid, N(grid));

	snprintf(topic, tcap, "%s%s", place, t);
	snprintf(decision, dcap, "%s", pick(r, dec, N(dec)));
}
