"""The one catalogue of bilingual (English 中文) labels the maps, the report and ``caregrid compare`` show.

Rule texts are not here: they come from the rule files (``config/rules/*.toml``). Facility names stay Chinese and
are data, not labels.

A :class:`Label` prints as "English 中文" (``str(label)``); :meth:`Label.text` gives English alone where Chinese
cannot be drawn (a static map without a CJK font); :attr:`Label.zh_en` puts Chinese first (legend rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Label:
    """A label in English and Chinese."""

    en: str
    zh: str = ""

    def __str__(self) -> str:
        return f"{self.en} {self.zh}" if self.zh else self.en

    @property
    def zh_en(self) -> str:
        """Chinese first: "中文 English"."""
        return f"{self.zh} {self.en}" if self.zh else self.en

    def text(self, chinese: bool = True) -> str:
        """Text as "English 中文", or English alone when ``chinese`` is False (no CJK font to draw it)."""
        return str(self) if chinese else self.en


@dataclass(frozen=True)
class KindLabel(Label):
    """A facility kind: label plus the one letter drawn inside its marker (Chinese, Latin fallback)."""

    letter_zh: str = ""
    letter_en: str = ""


@dataclass(frozen=True)
class IndicatorLabel:
    """An indicator's heading: ``short`` in the report's table, ``long`` in a comparison (defaults to short)."""

    short: str
    long: str = ""

    @property
    def full(self) -> str:
        return self.long or self.short


class TargetText:
    """Labels of the targets page 规划目标 and the emergency section 急救保障 of the report (issue 15)."""

    targets = Label("Planning targets", "规划目标")
    targets_intro = Label(
        "Each target of the targets file, judged per grid, district and city from the run's data; no data where "
        "the facility files hold no figure", "按网格、区县、全市核查；无数据处不作判断")
    target = Label("target", "目标")
    year = Label("year", "年份")
    source = Label("source", "来源")
    city = Label("City", "全市")
    not_judged = Label("not judged at this scope", "此范围不核查")
    example_data = Label(
        "EXAMPLE figures made up for illustration, not real data: the facility statistics come from",
        "示例数据，仅作演示，非真实数据")
    emergency = Label("Emergency readiness and five centres", "急救保障与五大中心")
    ambulances = Label("Ambulances (have / required)", "救护车（现有/需配）")
    negative_pressure = Label("Negative-pressure ambulances (have / required)", "负压救护车（现有/需配）")
    aeds = Label("AEDs (have / required)", "AED（现有/需配）")
    nurses_per_doctor = Label("Nurses per doctor", "医护比")
    reporting = Label("facilities reporting", "填报机构数")
    within = Label("residents within", "分钟内人口占比")  # "residents within 30 min (30分钟内人口占比)"
    minutes = Label("min", "分钟")
    ems_siting = Label("Ambulance-station siting", "急救站点选址")
    stations = Label("Ambulance stations", "急救站点")
    existing = Label("existing", "现有")
    new = Label("new", "新增")
    covered_before = Label("covered by existing stations", "现有站点覆盖")
    covered_after = Label("covered after siting", "选址后覆盖")
    residents_within = Label("residents within T", "覆盖人口")


#: the capability flags of facility files as the report names them (五大中心 and two more)
CAPABILITIES: Final[dict[str, Label]] = {
    "chest_pain": Label("Chest pain centre", "胸痛中心"),
    "stroke": Label("Stroke centre", "卒中中心"),
    "trauma": Label("Trauma centre", "创伤中心"),
    "maternal_critical": Label("Critical maternal care", "危重孕产妇救治中心"),
    "neonatal_critical": Label("Critical child and neonatal care", "危重儿童和新生儿救治中心"),
    "infectious_ward": Label("Infectious-disease ward", "感染性疾病病区"),
    "fever_clinic": Label("Fever clinic", "发热门诊"),
}


#: display role of a facility on the maps (groups.csv roles, plus facilities no group holds)
ROLES: Final[dict[str, Label]] = {
    "lead": Label("Lead hospital", "牵头医院"),
    "member": Label("Member", "成员单位"),
    "cross_grid": Label("Cross-grid", "跨网格"),
    "collaborating": Label("Collaborating unit", "协作单位"),
    "campus": Label("Campus of the lead or member", "院区"),
    "other": Label("Not in a group", "未纳入集团"),
}

#: what-if change actions of a scenario's ``[[changes]]`` (report, run record)
CHANGE_ACTIONS: Final[dict[str, Label]] = {
    "add": Label("Add", "新增"),
    "change": Label("Change", "变更"),
    "close": Label("Close", "关闭"),
    "link": Label("Link campuses", "多院区合并"),
    "move": Label("Move", "位置调整"),
}

#: texts of the planner's workspace ``caregrid app`` (its page reads them from ``GET /api/labels``)
APP: Final[dict[str, Label]] = {
    "title": Label("caregrid planner's workspace", "网格规划工作台"),
    "grid": Label("Grid", "网格"),
    "paint_into": Label("Paint into grid", "涂入网格"),
    "new_grid": Label("New grid", "新建网格"),
    "merge_into": Label("Merge into", "合并入"),
    "delete_grid": Label("Delete grid (units join its main neighbour)", "删除网格（单元并入主要相邻网格）"),
    "lock": Label("Lock painted units", "锁定单元"),
    "undo": Label("Undo", "撤销"),
    "redo": Label("Redo", "重做"),
    "save": Label("Save scenario", "保存方案"),
    "export": Label("Export run folder", "导出运行结果"),
    "repair": Label("Repair (fewest residents moved)", "最少调整修复"),
    "optimise": Label("Optimise", "优化"),
    "fill": Label("Fill leadless grids", "填充未定网格"),
    "cancel": Label("Cancel", "取消"),
    "rules": Label("Rule checks", "规则核查"),
    "summary": Label("City summary", "全市概况"),
    "residents": Label("residents", "常住人口"),
    "area": Label("area km²", "面积（平方公里）"),
    "lead": Label("lead", "牵头医院"),
    "members": Label("members", "成员单位"),
    "needs": Label("needs", "要求"),
    "has": Label("has", "实际"),
    "fails": Label("fails", "未通过"),
    "not_judged": Label("not judged", "无法判定"),
    "passed": Label("passed", "通过"),
    "place_me": Label("place me", "位置待确认"),
    "travel_mean": Label("mean minutes to lead", "至牵头医院平均分钟"),
    "within_access": Label("share within access minutes", "可达范围内人口比例"),
    "compactness": Label("compactness (Polsby–Popper, 1 = circle)", "紧凑度"),
    "job": Label("Solver", "求解"),
    "saved": Label("Saved", "已保存"),
    "locks_not_saved": Label("locked units not saved (their grid has no eligible lead)",
                             "未保存的锁定单元（所在网格无合格牵头医院）"),
    "exported": Label("Exported", "已导出"),
    "no_lead": Label("no eligible lead", "无合格牵头医院"),
    "facility": Label("Selected facility (click a marker; drag it to its real location)",
                      "所选机构（点击标记；拖动至实际位置）"),
    "close_facility": Label("Close", "关闭"),
    "change_level": Label("Change level to", "调整级别为"),
    "change_kind": Label("Change kind to", "调整类别为"),
    "add_facility": Label("Add at the map centre (a planner's assumption: drag it to its site)",
                          "在地图中心新增（规划设想，请拖至选址）"),
    "facility_name": Label("name", "名称"),
    "link_campus": Label("Make it a campus of", "设为以下机构的院区"),
    "lead_auto": Label("largest eligible hospital inside", "网格内最大的合格医院"),
    "brush": Label("Brush radius (px; Alt + click: the whole district)", "画笔半径（像素；Alt + 单击：整个区县）"),
}

LEVELS: Final[dict[str, Label]] = {
    "tertiary": Label("tertiary", "三级"),
    "secondary": Label("secondary", "二级"),
    "primary": Label("primary care", "基层"),
    "unrated": Label("unrated", "未定级"),
}

KINDS: Final[dict[str, KindLabel]] = {
    "general": KindLabel("general hospital", "综合医院", "综", "G"),
    "tcm": KindLabel("TCM hospital", "中医医院", "中", "T"),
    "integrated": KindLabel("integrated TCM–western", "中西医结合", "结", "I"),
    "maternal_child": KindLabel("maternal–child", "妇幼保健", "妇", "M"),
    "specialty": KindLabel("specialty hospital", "专科医院", "专", "S"),
    "rehab": KindLabel("rehabilitation", "康复", "康", "R"),
    "nursing": KindLabel("nursing", "护理", "护", "N"),
    "hospice": KindLabel("hospice care", "安宁疗护", "宁", "Q"),
    "public_health": KindLabel("public health", "公共卫生", "疾", "P"),
    "community_health_centre": KindLabel("community health centre", "社区卫生服务中心", "社", "C"),
    "township_hospital": KindLabel("township hospital", "乡镇卫生院", "乡", "H"),
}

#: indicators.csv columns; the report shows them in this order (those a run has)
INDICATORS: Final[dict[str, IndicatorLabel]] = {
    "population": IndicatorLabel("Residents 常住人口"),
    "population_share": IndicatorLabel("Share of city 占全市"),
    "area_km2": IndicatorLabel("Area km² 面积"),
    "units": IndicatorLabel("Units 单元"),
    "unserved_residents": IndicatorLabel(
        "Unserved residents 未覆盖人口", "Unserved residents (no grid lead) 未覆盖人口（网格无牵头医院）"
    ),
    "unserved_share": IndicatorLabel("Unserved share 未覆盖比例", "Share of residents unserved 未覆盖人口比例"),
    "travel_mean_min": IndicatorLabel(
        "Mean min to lead, served 平均时间（已覆盖）",
        "Mean minutes to lead, of served residents 平均到牵头医院时间（已覆盖人口）",
    ),
    "travel_median_min": IndicatorLabel("Median min, served 中位（已覆盖）"),
    "travel_p90_min": IndicatorLabel(
        "P90 min, served（已覆盖）", "P90 minutes to lead, of served residents 到牵头医院时间P90（已覆盖人口）"
    ),
    "travel_max_min": IndicatorLabel("Max min, served 最长（已覆盖）"),
    "travel_gini": IndicatorLabel(
        "Gini of travel minutes 到达时间基尼系数", "Gini of minutes to lead, served residents 到达时间基尼系数"
    ),
    "share_within_access": IndicatorLabel("Within access threshold 可达比例", "Share within access threshold 可达比例"),
    "share_within_primary_care": IndicatorLabel(
        "Within 15 min of primary care 15分钟医疗服务圈", "Share within 15 min of primary care 15分钟医疗服务圈"
    ),
    "beds_per_1000": IndicatorLabel("Beds /1,000 每千人床位", "Group beds per 1,000 每千人床位"),
    "tertiary_beds_per_1000": IndicatorLabel("Tertiary beds /1,000 三级床位", "Tertiary beds per 1,000"),
    "outpatient_slots_per_1000": IndicatorLabel("Outpatient slots /1,000 门诊号源", "Outpatient slots per 1,000"),
    "beds_estimated_share": IndicatorLabel(
        "Beds from estimates 床位估算占比", "Share of group beds from estimated capacities 床位估算占比"
    ),
    "outpatient_estimated_share": IndicatorLabel(
        "Slots from estimates 号源估算占比", "Share of outpatient slots from estimated capacities 号源估算占比"
    ),
    "reserved_slots_per_10000": IndicatorLabel("Reserved slots /10,000 下沉号源", "Reserved slots per 10,000 下沉号源"),
    "reserved_beds_per_10000": IndicatorLabel("Reserved beds /10,000 下沉床位", "Reserved beds per 10,000 下沉床位"),
    "share_nearest_lead_elsewhere": IndicatorLabel(
        "Nearest lead in another grid 就近牵头医院在他网格", "Share whose nearest lead is in another grid"
    ),
    "extra_min_nearest_lead_elsewhere": IndicatorLabel("…extra min 额外时间"),
    "polsby_popper": IndicatorLabel("Compactness (Polsby–Popper) 紧凑度", "Mean compactness (Polsby–Popper)"),
    "cut_edges": IndicatorLabel("Cut edges 边界边数"),
    "nurses_per_doctor": IndicatorLabel("Nurses per doctor 医护比"),
    "ambulances_per_30000": IndicatorLabel("Ambulances /30,000 救护车"),
    "aeds_per_10000": IndicatorLabel("AEDs /10,000 自动体外除颤器"),
    "population_cv": IndicatorLabel("Population CV 人口变异系数", "Population CV across grids 人口变异系数"),
    "population_max_min_ratio": IndicatorLabel("Max/min population 最大最小比", "Max/min grid population"),
}
#: rows of a comparison that are not columns of indicators.csv
COMPARISON_ROWS: Final[dict[str, IndicatorLabel]] = {
    "grids": IndicatorLabel("Grids 网格数"),
    "rules_failed": IndicatorLabel("Rule checks failed 未通过规则数"),
}
#: indicators shown as percentages
SHARES: Final = frozenset(
    {
        "population_share",
        "unserved_share",
        "beds_estimated_share",
        "outpatient_estimated_share",
        "share_within_access",
        "share_within_primary_care",
        "share_nearest_lead_elsewhere",
    }
)


class PlanLayerText:
    """Labels of the plan layers of issue 15: shared centres, equity by district, service lines, family doctors."""

    shared_centres = Label("Shared centres", "资源共享中心")
    shared_centre_hosts = Label("Shared-centre hosts", "资源共享中心承建机构")
    centre = Label("Centre", "中心")
    host = Label("Host", "承建机构")
    host_status = Label("Host", "承建")
    own = Label("own group", "本集团")
    shared = Label("shared with a neighbouring group", "相邻集团共享")
    no_host = Label("no member able to host", "无可承建成员")
    not_applicable = Label("not applicable", "不适用")
    grids_served = Label("Grids served", "服务网格")
    members_served = Label("Members served", "服务成员单位")
    mean_minutes = Label("Mean minutes (volume-weighted)", "平均时间（按业务量加权）")
    mean_min_short = Label("Mean min", "平均分钟")
    equity = Label("Equity by district and urban/rural part", "分区与城乡均衡")
    part = Label("Area", "区域")
    travel_gini = Label("Gini of travel minutes", "到达时间基尼系数")
    max_min_ratio = Label("max/min across districts", "区间最大/最小比")
    service_lines = Label("Service lines per group", "集团服务链")
    offered = Label("offered", "具备")
    missing = Label("missing", "缺失")
    family_doctors = Label("Family-doctor teams", "家庭医生签约服务团队")
    general_practitioners = Label("General practitioners", "全科医生")
    teams = Label("Teams", "团队")
    declared = Label("declared", "申报")
    needed = Label("needed", "需要")
    shortfall = Label("shortfall", "缺口")
    norm_source = Label("Norm and source", "标准及来源")
    recipients = Label("Who receives the reserved slots and beds", "下沉号源与床位承接方")
    recipient_team = Label("family-doctor team", "家庭医生团队")
    recipient_facility = Label("primary-care facility", "基层医疗卫生机构")


class Text:
    """Headings, layer names, tooltip fields and legend rows of the maps, the report and the comparison."""

    # things on the map
    grid = Label("Grid", "网格")
    grids = Label("Grids", "网格")
    grids_lower = Label("grids", "网格")
    lead_hospital = Label("Lead hospital", "牵头医院")
    no_lead = Label("no lead", "无牵头医院")
    none = Label("none", "无")
    residents = Label("Residents", "常住人口")
    residents_lower = Label("residents", "常住人口")
    residents_served = Label("Residents served", "服务人口")
    residents_served_lower = Label("residents", "服务人口")
    beds_per_1000 = Label("Beds per 1,000", "每千人床位")
    mean_travel = Label("Mean travel to lead", "平均到达时间")
    estimate = Label("estimate", "估算")
    grade_rule = Label("grade rule", "等级标准下限")
    no_data = Label("no data", "无数据")
    estimated_figures = Label("includes estimated figures", "含估算")
    not_drawn = Label("facilities not drawn (map limit; all are in plan.gpkg)", "个机构未绘制")
    modelled = Label("modelled", "模拟")
    district = Label("District", "区")
    district_boundary = Label("District boundary", "区界")
    district_boundaries = Label("District boundaries", "区界")
    unit = Label("Unit", "单元")
    density = Label("Population density", "人口密度")
    travel_to_lead = Label("Travel minutes to lead", "到牵头医院时间")
    travel_to_the_lead = Label("Travel minutes to the lead", "到牵头医院时间")
    group_links = Label("Group links", "集团连线")
    referral_reservations = Label("Referral reservations", "下沉号源")
    referral_reservation = Label("referral reservation", "下沉号源")
    collaborating_units = Label("Collaborating units", "协作单位")
    collaborating_unit = Label("collaborating unit", "协作单位")
    collaborating_outside = Label("collaborating unit outside the city", "市外协作单位")
    facilities = Label("Facilities", "医疗机构")
    links = Label("Links", "连线")
    lead_to_member = Label("lead → member", "集团成员")
    lead_to_cross_grid = Label("lead → cross-grid unit", "跨网格")
    outpatient_slots_day = Label("outpatient slots/day", "门诊号源")
    beds = Label("beds", "床位")
    legend = Label("Legend", "图例")
    approximate_location = Label("approximate location", "近似位置")
    modelled_facility = Label("modelled facility", "模拟机构")
    modelled_or_approximate = Label("modelled / approximate location", "模拟/近似位置")
    kind_letter = Label("letter = kind", "类别")
    size_by_level = "size: tertiary 三级 › secondary 二级 › primary 基层"
    full_screen = Label("Full screen", "全屏")
    exit_full_screen = Label("Exit full screen", "退出全屏")
    grids_and_groups = Label("Grids and tight urban medical groups", "网格与紧密型城市医疗集团")
    compliance = Label("Compliance", "规则核查")
    urban_core = Label("Urban core, enlarged", "城区放大")
    smoothed_outlines = Label(
        "Grid outlines smoothed for presentation: a drawing; the planning units (plan.gpkg) are the plan",
        "网格边界已平滑，仅为示意，以规划单元为准",
    )
    # facility popup
    role = Label("Role", "角色")
    level = Label("Level", "等级")
    kind = Label("Kind", "类别")
    beds_heading = Label("Beds", "床位")
    reserved_for_primary_care = Label("Reserved for primary care", "下沉")
    allocated = Label("Allocated", "分配号源")
    status = Label("Status", "状态")
    not_real = Label("MODELLED, not a real facility", "模拟机构")
    location = Label("Location", "位置")
    approximate = Label("approximate", "近似")
    # report
    all_rules_passed = Label("All rules passed", "全部规则通过")
    rule_checks_failed = Label("rule check(s) failed", "未通过")
    mode = Label("mode", "模式")
    rules = Label("rules", "规则")
    contiguity = Label("contiguity", "连片")
    map = Label("Map", "地图")
    interactive_map = Label("Interactive map", "交互地图")
    rule_compliance = Label("Rule compliance", "规则核查")
    requirement = Label("requirement", "要求")
    passed = Label("passed", "通过")
    failed = Label("FAILED", "未通过")
    planned = Label("planned", "规划值")
    declared = Label("declared", "已申报")
    not_declared = Label("not declared", "未申报")
    reading = Label("reading", "解读")
    indicators = Label("Indicators", "指标")
    indicator = Label("indicator", "指标")
    charts = Label("Charts", "图表")
    population_per_grid = Label("Population per grid", "各网格人口")
    travel_distribution = Label("Travel time distribution per grid", "到牵头医院时间分布")
    beds_per_1000_short = Label("Beds per 1,000", "每千人床位")
    notes = Label("Notes", "说明")
    medical_groups = Label("Medical groups", "医疗集团")
    medical_group = Label("Medical group", "医疗集团")
    facility = Label("Facility", "机构")
    outpatient_heading = Label("Outpatient/day", "日门诊量")
    beds_plain = Label("Beds", "床位")
    reserved_slots_received = Label("Reserved slots/day", "下沉号源")
    reserved_beds_received = Label("Reserved beds", "下沉床位")
    per_10000 = Label("per 10,000 served", "每万服务人口")
    no_group = Label("no lead, no group", "无牵头医院，未组建集团")
    lead_lower = Label("lead hospital", "牵头医院")
    members_lower = Label("members", "成员单位")
    cross_grid_lower = Label("cross-grid institutions", "跨网格机构")
    collaborating_lower = Label("collaborating units", "协作单位")
    referral_reservations_lower = Label("primary-care members with referral reservations", "下沉号源分配")
    # what-if changes
    what_if_changes = Label("What-if changes", "方案调整")
    what_if_intro = Label("This plan applies these changes to the facility data", "本方案对机构数据作了以下调整")
    added_by_change = Label("added by scenario change", "方案调整新增")
    changed_by_change = Label("changed by scenario change", "方案调整变更")
    moved_by_change = Label("moved by scenario change", "方案调整位置")
    linked_by_change = Label("linked by scenario change, campuses", "方案调整合并院区")
    campus_of = Label("campus of", "院区，隶属")
    campuses_of_one_institution = Label("campuses of one institution", "同一机构的院区")
    planned_figure = Label("planned", "规划")
    change_heading = Label("Scenario change", "方案调整")
    # ensembles (caregrid ensemble)
    locations_unknown = Label("Hospital locations unknown: consensus of", "医院位置未知：共识方案，抽样次数")
    draws_word = Label("draws", "次")
    what_was_sampled = Label("What was sampled", "抽样内容")
    representative_draw = Label("Facility positions shown: representative draw", "图中机构位置：代表性抽样")
    one_possible_placement = Label("one possible placement, not facts", "仅为一种可能位置，待确认")
    consensus_robustness = Label("The consensus layout meets every rule in",
                                 "共识网格在以下比例的抽样位置下满足全部规则")
    of_the_draws = Label("of the draws' placements", "抽样")
    draws_with_a_plan = Label("Draws with a plan", "有可行方案的抽样")
    spread_over_draws = Label("Spread over the draws", "各次抽样的分布")
    stability = Label("Stability (share of draws agreeing on the lead)", "稳定度")
    # comparison
    scenario_comparison = Label("Scenario comparison", "方案比较")
    changed_units = Label("Units that changed lead hospital", "调整单元")
    side_by_side_map = Label("Side-by-side map", "对比地图")
