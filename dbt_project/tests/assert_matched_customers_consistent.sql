-- A CRM company matched to a customer appears as that customer's CRM company in customers.
select matching.crm_company_id
from {{ ref('customer_matching') }} as matching
left join {{ ref('customers') }} as customers
    on matching.customer_number = customers.customer_number
where
    matching.match_status = 'matched'
    and customers.crm_company_id is distinct from matching.crm_company_id
