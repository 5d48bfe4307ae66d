"""The fixed map of the synthetic panel: 279 cities with made-up names in 30 provinces and three
regions, four municipalities and 35 core (capital or sub-provincial) cities.

The map is not drawn from the panel's seed, so a city keeps its name, province and region whatever
seed generates its data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["REGIONS", "city_layout"]

_LAYOUT_SEED = 1984
REGIONS = ("east", "central", "west")

# Cities per ordinary province, by region; four municipalities come on top (three east, one west).
_PROVINCE_SIZES = {
    "east": (16, 14, 14, 13, 14, 13, 13),
    "central": (14, 13, 12, 12, 13, 12, 12, 12),
    "west": (11, 9, 8, 8, 7, 7, 7, 6, 6, 5, 4),
}
_MUNICIPALITIES = {"east": 3, "west": 1}
# East provinces whose second city is a sub-provincial (core) city.
_SUBPROVINCIAL = 5

# Syllables for made-up names; real city and province names are filtered out below.
_SYLLABLES = (
    "an bai bao bin cang chang chen chi dai dan dong du e fang feng fu gan gao ge gu guan hai han hao he "
    "heng hong hua huai jia jian jiao jin jing ju kai kang lan lang le li lian ling liu long lu luo man mei "
    "meng min ming mu nan ning pan peng ping pu qi qian qiao qing quan rong rui sang shan shao shen sheng "
    "shi shu song su tai tan tao teng tian tong wan wei wen wu xi xia xian xiang xin xing xu ya yan yang "
    "yao ye yi ying yong you yu yuan yue yun ze zhang zhao zhen zheng zhi zhong zhou zhu zi zun"
).split()
_REAL_NAMES = set(
    (
        "anhui anqing anshan anyang anshun ankang baise baoding baoji baoshan bengbu binzhou changchun changde "
        "changsha changzhi changzhou chengde chengdu chizhou chongqing dandong danzhou datong dazhou dongguan "
        "dongying ezhou fangchenggang foshan fujian fuxin fuyang fuzhou ganzhou guangan guangdong guangxi "
        "guangyuan guangzhou guilin guiyang guizhou haikou hainan handan hangzhou hanzhong hebei hebi hechi "
        "hefei hegang heihe hengshui hengyang henan heyuan heze huaian huaibei huainan huanggang huangshan "
        "huangshi hubei huizhou hunan huzhou jiamusi jian jiangmen jiangsu jiangxi jiaozuo jiaxing jieyang "
        "jilin jinan jinchang jincheng jingdezhen jingmen jingzhou jinhua jining jinzhong jinzhou jiujiang "
        "jixi kaifeng kunming laibin langfang lanzhou leshan lianyungang liaocheng liaoning lijiang linfen "
        "lincang linyi lishui liupanshui liuzhou longnan longyan loudi luan luohe luoyang luzhou maanshan "
        "maoming meishan meizhou mianyang mudanjiang nanchang nanchong nanjing nanning nanping nantong nanyang "
        "neijiang ningbo ningde ningxia panjin panzhihua pingdingshan pingliang pingxiang puer putian puyang "
        "qingdao qinghai qingyang qingyuan qinzhou qiqihar quanzhou qujing quzhou rizhao sanmenxia sanming "
        "sanya shanghai shangluo shangqiu shangrao shantou shanwei shanxi shaanxi shaoguan shaoxing shaoyang "
        "shenyang shenzhen shijiazhuang shiyan shizuishan shuangyashan shuozhou siping songyuan suining "
        "suihua suizhou suqian suzhou taian taiyuan taizhou tangshan tianjin tianshui tieling tonghua "
        "tongchuan tongliao tongling wenzhou weifang weihai weinan wuhai wuhan wuhu wuwei wuxi wuzhong wuzhou "
        "xiamen xian xiangtan xiangyang xianning xianyang xiaogan xinxiang xinyang xinyu xinzhou xingtai "
        "xining xuancheng xuchang xuzhou yaan yanan yancheng yangjiang yangquan yangzhou yantai yibin yichang "
        "yichun yinchuan yingkou yingtan yiyang yongzhou yulin yuncheng yunfu yunnan yuxi zaozhuang "
        "zhangjiajie zhangjiakou zhangye zhangzhou zhanjiang zhaoqing zhaotong zhejiang zhengzhou zhenjiang "
        "zhongshan zhoukou zhoushan zhuhai zhumadian zhuzhou zibo zigong ziyang zunyi"
    ).split()
)


def city_layout() -> pd.DataFrame:
    """City ids, made-up names, provinces, regions, municipalities and core cities."""
    rng = np.random.default_rng(_LAYOUT_SEED)
    used: set[str] = set()

    def name() -> str:
        while True:
            first, second = rng.choice(_SYLLABLES, size=2, replace=True)
            candidate = f"{first}{second}"
            if first != second and candidate not in used and candidate not in _REAL_NAMES and len(candidate) <= 10:
                used.add(candidate)
                return candidate.capitalize()

    rows: list[dict] = []
    city_id = 0
    subprov_left = _SUBPROVINCIAL
    for region in REGIONS:
        for _ in range(_MUNICIPALITIES.get(region, 0)):
            city_id += 1
            city = name()
            rows.append(dict(city_id=city_id, city=city, province=city, region=region, municipality=1, capital=1, subprov=0))
        for size in _PROVINCE_SIZES[region]:
            province = name()
            for k in range(size):
                city_id += 1
                subprov = int(region == "east" and k == 1 and subprov_left > 0)
                subprov_left -= subprov
                rows.append(
                    dict(
                        city_id=city_id,
                        city=name(),
                        province=province,
                        region=region,
                        municipality=0,
                        capital=int(k == 0),
                        subprov=subprov,
                    )
                )
    frame = pd.DataFrame(rows)
    frame["core"] = ((frame["capital"] == 1) | (frame["subprov"] == 1)).astype(int)
    return frame
