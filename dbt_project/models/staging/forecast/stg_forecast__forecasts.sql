-- The forecast of the next days per community × category (forecast.forecasts, written by
-- `minqing forecast` between the two halves of the build: dbt_project/selectors.yml).
with

source as (
    select * from {{ source('forecast', 'forecasts') }}
)

select * from source
